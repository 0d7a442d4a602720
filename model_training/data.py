"""Training data: the bundled corpora and labelled feedback from the service DB.

Every loader returns a list of :class:`Example` with normalised text
(:func:`spamguard.scoring.features.normalise_text`).  Duplicates are removed on
the normalised text *before* any split.  Groups: the YouTube video
(``youtube:<name>``), ``sms`` for the SMS corpus and ``site:<id>`` for DB rows.

Corpus quirks handled (see ``data/*/README.md``):
* Eminem's broken quote (physical lines 271-276): the CSV is read line by line,
  one record per physical line, giving the 453 real records.
* The YouTube DATE column leaks the label in Eminem and is never read.
* SMS is read with ``csv.QUOTE_NONE`` (5,574 rows).
* Stack Exchange (ham only): Markdown links, emphasis, code ticks and a leading ``@Name`` reply are
  reduced to plain text so "Markdown ⇒ ham" cannot be learned; grouped by thread.
* Instagram: ``comments-rated.csv`` only; texts that carry both labels are dropped.
* Telegram spam (tg-spam samples): only the English lines (no Cyrillic letter), without the 15
  written-to-order "group announcements" (lines 33-47) and with Telegram links and ``@handles``
  removed (only Telegram spam has them: a medium leak); training only, source ``telegram``.
* Synthetic spam (spintax expansions of real comment-bot templates) is training-only: its source
  ``synthetic`` never enters an evaluation set or the gate set.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spamguard.comment import Comment
from spamguard.scoring.features import normalise_text

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    """$SPAMGUARD_DATA_DIR, else the checkout's data/, else the copy installed as `spamguard_corpora`."""
    if os.environ.get("SPAMGUARD_DATA_DIR"):
        return Path(os.environ["SPAMGUARD_DATA_DIR"])
    if (PROJECT_ROOT / "data").is_dir():
        return PROJECT_ROOT / "data"
    import importlib.util

    spec = importlib.util.find_spec("spamguard_corpora")
    return Path(next(iter(spec.submodule_search_locations))) if spec else PROJECT_ROOT / "data"


DATA_DIR = _data_dir()
YOUTUBE_DIR = DATA_DIR / "youtube-spam-collection"
SMS_FILE = DATA_DIR / "sms-spam-collection" / "SMSSpamCollection"
STACKEXCHANGE_FILE = DATA_DIR / "stackexchange-comments" / "comments.tsv"
INSTAGRAM_FILE = DATA_DIR / "instagram-scam-comments" / "comments-rated.csv"
CONSTRUCTS_FILE = DATA_DIR / "wordpress-comment-blacklist" / "constructs.txt"
TELEGRAM_FILE = DATA_DIR / "telegram-spam-samples" / "spam-samples.txt"
# Corpora that are held out one at a time (leave-one-corpus-out); "telegram", "synthetic" and "db" always train.
EVAL_CORPORA = ("youtube", "sms", "stackexchange", "instagram")

# The five videos (README table): permalink of the page each comment was left on.
YOUTUBE_VIDEO_IDS = {
    "psy": "9bZkp7q19f0",
    "katyperry": "CevxZvSJLk8",
    "lmfao": "KQ6zr6kCPj8",
    "eminem": "uelHwf8o7_U",
    "shakira": "pRpeEdMmmQ0",
}
# id, author, date of a line whose label was split off: the first ",<date>," ends the author (the lazy
# author then costs one short date scan per comma, linear where a greedy content group was quadratic).
_YT_HEAD_RE = re.compile(r"(?P<id>[^,]*+),(?P<author>.*?),(?P<date>[0-9T:.\-]*+),")


@dataclass
class Example:
    comment: Comment
    label: int  # 1 = spam, 0 = ham
    group: str
    source: str  # youtube | sms | db
    # Corpora and moderator decisions are trusted; API submit-spam/ham is not (it is capped and
    # down-weighted, and never used for calibration or thresholds).
    trusted: bool = True
    # A checked comment nobody reported (load_site_ham): ham by silence, weighted like the site's reports.
    implicit: bool = False

    @property
    def text(self) -> str:
        return self.comment.comment_content


def text_key(text: str) -> str:
    """Dedupe key: normalised, casefolded, whitespace-collapsed text."""
    return " ".join(normalise_text(text).casefold().split())


_SHAPE_DROP_RE = re.compile(r"\d+|https?://\S+|www\.\S+|[^\w\s]")


def shape_key(text: str) -> str:
    """Near-duplicate key for feedback: text_key without digits, URLs and punctuation.

    A flood of templated reports ("... giveaway 17 http://bit.ly/free17") collapses to one example.
    """
    return " ".join(_SHAPE_DROP_RE.sub(" ", text_key(text)).split())


def _parse_youtube_line(line: str) -> tuple[str, str, str, int] | None:
    """One physical line → (comment_id, author, content, label); None for the header/blank."""
    if not line.strip() or line.startswith("COMMENT_ID,"):
        return None
    row = next(csv.reader([line]))
    if len(row) == 5 and row[4] in ("0", "1"):
        return row[0], row[1], row[3], int(row[4])
    # A line with an unbalanced quote (Eminem 271): take the fields positionally.
    body, comma, label = line.rpartition(",")
    match = _YT_HEAD_RE.match(body) if comma and label in ("0", "1") else None
    if not match:
        raise ValueError(f"unparseable YouTube line: {line[:80]!r}")
    content = body[match.end() :]
    if content.startswith('"') and content.count('"') % 2 == 1:
        content = content[1:]
    content = content.replace('""', '"')
    return match["id"], match["author"].strip('"'), content, int(label)


def read_youtube_file(path: Path) -> list[tuple[str, str, str, int]]:
    """Raw records of one YouTube CSV, one per physical line (DATE dropped)."""
    records = []
    with open(path, encoding="utf-8", newline="") as handle:
        for line in handle.read().split("\n"):
            parsed = _parse_youtube_line(line.rstrip("\r"))
            if parsed:
                records.append(parsed)
    return records


def load_youtube(directory: Path = YOUTUBE_DIR, dedupe: bool = True) -> list[Example]:
    examples = []
    for path in sorted(Path(directory).glob("Youtube0*.csv")):
        video = path.stem.split("-", 1)[1].lower()
        for _cid, author, content, label in read_youtube_file(path):
            comment = Comment(
                comment_content=normalise_text(content),
                comment_author=normalise_text(author),
                permalink=f"https://www.youtube.com/watch?v={YOUTUBE_VIDEO_IDS.get(video, '')}",
            )
            examples.append(Example(comment, label, f"youtube:{video}", "youtube"))
    return dedupe_examples(examples) if dedupe else examples


def load_sms(path: Path = SMS_FILE, dedupe: bool = True) -> list[Example]:
    examples = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not row:
                continue
            label, text = row[0], row[1]
            examples.append(Example(Comment(comment_content=normalise_text(text)), int(label == "spam"), "sms", "sms"))
    return dedupe_examples(examples) if dedupe else examples


# Markdown of Stack Exchange comments (all patterns bounded, no nested quantifiers).
_MD_LINK_RE = re.compile(r"\[([^\[\]\n]{0,300})\]\(([^()\s]{1,500})\)")
_MD_EMPH_RE = re.compile(r"\*\*|__|`|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)")
_MENTION_RE = re.compile(r"^(?:@[\w.-]{1,40}[:,]?\s{1,3}){1,5}")


def _plain_markdown(text: str) -> str:
    text = _MD_LINK_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}", text)
    return _MENTION_RE.sub("", _MD_EMPH_RE.sub("", text))


def load_stackexchange(path: Path = STACKEXCHANGE_FILE, dedupe: bool = True) -> list[Example]:
    """Real discussion comments (ham); group ``stackexchange:<site>/<post>`` keeps threads together."""
    examples = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL):
            site = row["site"]
            text = normalise_text(_plain_markdown(row["text"]))
            comment = Comment(comment_content=text, permalink=f"https://{site}/questions/{row['post_id']}")
            examples.append(Example(comment, 0, f"stackexchange:{site}/{row['post_id']}", "stackexchange"))
    return dedupe_examples(examples) if dedupe else examples


def load_instagram(path: Path = INSTAGRAM_FILE, dedupe: bool = True) -> list[Example]:
    """Scam vs real Instagram comments (already lower-cased and punctuation-stripped upstream)."""
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append((normalise_text(row["msg"]), int(row["scam"])))
    labels: dict[str, set[int]] = {}
    for text, label in rows:
        labels.setdefault(text_key(text), set()).add(label)
    examples = [
        Example(Comment(comment_content=text), label, "instagram", "instagram")
        for text, label in rows
        if len(labels[text_key(text)]) == 1
    ]
    return dedupe_examples(examples) if dedupe else examples


def _spintax_templates(raw: str) -> list[str]:
    """Split constructs.txt at depth-0 ``|`` (newlines are the file's hard wrap, i.e. spaces)."""
    raw = raw.replace("\n", " ").rstrip().rstrip("\\")
    templates, depth, start = [], 0, 0
    for i, ch in enumerate(raw):
        depth += (ch == "{") - (ch == "}")
        if ch == "|" and depth == 0:
            templates.append(raw[start:i])
            start = i + 1
    templates.append(raw[start:])
    return [" ".join(t.split()) for t in templates if t.strip()]


def _expand(template: str, rng: Any) -> str:
    """One random realisation of a spintax template (innermost groups first)."""
    group = re.compile(r"\{([^{}]*)\}")
    while True:
        new = group.sub(lambda m: rng.choice(m.group(1).split("|")), template)
        if new == template:
            return " ".join(new.split())
        template = new


def load_synthetic(path: Path = CONSTRUCTS_FILE, per_template: int = 4, seed: int = 20261128) -> list[Example]:
    """Synthetic blog-comment spam from real bot spintax: training only, grouped by template."""
    import random

    rng = random.Random(seed)
    examples = []
    for t_index, template in enumerate(_spintax_templates(path.read_text(encoding="utf-8"))):
        texts = {_expand(template, rng) for _ in range(per_template)}
        for text in sorted(texts):
            examples.append(
                Example(Comment(comment_content=normalise_text(text)), 1, f"synthetic:{t_index}", "synthetic")
            )
    return dedupe_examples(examples)


_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_TELEGRAM_RE = re.compile(r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/\S*|@\w+", re.IGNORECASE)
TELEGRAM_WRITTEN_TO_ORDER = range(33, 48)  # 1-based lines of upstream commit e6dc6b6b (README quirk 4)


def load_telegram(path: Path = TELEGRAM_FILE, dedupe: bool = True) -> list[Example]:
    """English investment/crypto-fraud spam from Telegram groups: training only, one group per line."""
    examples = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip() or _CYRILLIC_RE.search(line) or number in TELEGRAM_WRITTEN_TO_ORDER:
            continue
        text = normalise_text(" ".join(_TELEGRAM_RE.sub(" ", line).split()))
        examples.append(Example(Comment(comment_content=text), 1, f"telegram:{number}", "telegram"))
    return dedupe_examples(examples) if dedupe else examples


def load_corpora(dedupe: bool = True) -> list[Example]:
    """Every bundled corpus, deduplicated on normalised text across all of them (first occurrence kept).

    The training-only Telegram and synthetic spam come last, so a line that equals a real comment is dropped,
    not the real one.
    """
    examples = (
        load_youtube(dedupe=False)
        + load_sms(dedupe=False)
        + load_stackexchange(dedupe=False)
        + load_instagram(dedupe=False)
        + load_telegram(dedupe=False)
        + load_synthetic()
    )
    return dedupe_examples(examples) if dedupe else examples


def dedupe_examples(examples: Iterable[Example]) -> list[Example]:
    """Keep the first example of each normalised text (the corpora have no conflicting duplicates)."""
    seen: set[str] = set()
    out = []
    for example in examples:
        key = text_key(example.text)
        if key and key not in seen:
            seen.add(key)
            out.append(example)
    return out


def load_feedback(session: Any, cap_per_key: int) -> list[Example]:
    """Labelled comments from the service DB (``Feedback`` rows).

    * test calls (``is_test``) and undone feedback are excluded;
    * for each distinct comment the latest label wins; "distinct" is per site and by
      :func:`shape_key` (digits, URLs and punctuation ignored), so templated floods collapse;
    * each reporting key (``site_id``) contributes at most ``cap_per_key`` examples
      (its most recent ones), so one client cannot flood the training set;
    * API reports are untrusted (``trusted=False``), moderator decisions trusted.
    Training additionally caps each key's total sample weight (``train.example_weights``).
    """
    from sqlalchemy import select

    from spamguard.storage.models import Feedback

    rows = session.execute(
        select(Feedback.id, Feedback.site_id, Feedback.label, Feedback.fields, Feedback.source)
        .where(Feedback.is_test.is_(False), Feedback.undone_at.is_(None))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    ).all()
    per_site: dict[int, int] = {}
    seen: set[tuple[int, str]] = set()
    examples = []
    for _id, site_id, label, fields, source in rows:  # newest first
        if label not in ("spam", "ham"):
            continue
        comment = Comment.from_json(dict(fields or {}))
        if comment.is_test:
            continue
        comment.comment_content = normalise_text(comment.comment_content)
        key = shape_key(comment.comment_content) or text_key(comment.comment_content)
        if not key or (site_id, key) in seen:
            continue  # an older label of a comment already seen
        seen.add((site_id, key))
        if per_site.get(site_id, 0) >= cap_per_key:
            continue
        per_site[site_id] = per_site.get(site_id, 0) + 1
        examples.append(Example(comment, int(label == "spam"), f"site:{site_id}", "db", trusted=source == "moderator"))
    examples.reverse()  # oldest first, deterministic
    return examples


def load_site_ham(
    session: Any, site_ids: Iterable[int], now: Any, window_days: float, cap_per_site: int
) -> tuple[list[Example], list[Example]]:
    """The reporting sites' own ordinary comments: (implicit negatives for training, recent ham for the gate).

    A check answered ``ham`` that nobody reported (no feedback on it or on the same content, no
    moderator "spam") is that site's ham *once it is older than* ``window_days`` (the site had the
    time to report it).  Those train, as negatives from the same topic as the site's reports, so
    a retrain learns what separates a campaign from its surroundings rather than the topic words.
    Younger ones are the gate's "recent ham": a candidate that newly blocks them is refused.
    Up to ``cap_per_site`` of each, newest first.
    """
    from datetime import timedelta

    from sqlalchemy import select

    from spamguard.storage.models import Check, Feedback

    site_ids = sorted(set(site_ids))
    if not site_ids:
        return [], []
    reported = {
        (site_id, h)
        for site_id, h in session.execute(
            select(Check.site_id, Check.content_hash)
            .join(Feedback, Feedback.check_id == Check.id)
            .where(Check.site_id.in_(site_ids))
        )
    }
    reported_ids = set(
        session.scalars(select(Feedback.check_id).where(Feedback.check_id.is_not(None), Feedback.site_id.in_(site_ids)))
    )
    reported_text = {
        (site_id, text_key(Comment.from_json(dict(fields or {})).comment_content))
        for site_id, fields in session.execute(
            select(Feedback.site_id, Feedback.fields).where(Feedback.site_id.in_(site_ids))
        )
    }
    cutoff = now - timedelta(days=window_days)
    rows = session.execute(
        select(Check.id, Check.site_id, Check.content_hash, Check.fields, Check.created_at)
        .where(
            Check.site_id.in_(site_ids),
            Check.verdict == "ham",
            Check.is_test.is_(False),
            Check.review_label.is_(None) | (Check.review_label == "ham"),
        )
        .order_by(Check.created_at.desc(), Check.id.desc())
    ).all()
    old: dict[int, list[Example]] = {}
    recent: dict[int, list[Example]] = {}
    seen: set[tuple[int, str]] = set()
    for check_id, site_id, h, fields, created in rows:
        comment = Comment.from_json(dict(fields or {}))
        comment.comment_content = normalise_text(comment.comment_content)
        key = text_key(comment.comment_content)
        if (
            not key
            or check_id in reported_ids
            or (site_id, h) in reported
            or (site_id, key) in reported_text
            or (site_id, key) in seen
        ):
            continue
        seen.add((site_id, key))
        created = created if created.tzinfo else created.replace(tzinfo=now.tzinfo)
        bucket = old if created <= cutoff else recent
        if len(bucket.setdefault(site_id, [])) < cap_per_site:
            bucket[site_id].append(Example(comment, 0, f"site:{site_id}", "db", trusted=False, implicit=True))
    return [e for v in old.values() for e in v], [e for v in recent.values() for e in v]


def dataset_digest(examples: list[Example]) -> tuple[str, int]:
    """sha256 and byte size of a canonical serialisation of (group, label, text)."""
    buf = io.StringIO()
    for ex in examples:
        buf.write(f"{ex.group}\t{ex.label}\t{ex.text}\n")
    data = buf.getvalue().encode("utf-8")
    return hashlib.sha256(data).hexdigest(), len(data)


def gate_split(examples: list[Example], fraction: float = 0.2) -> tuple[list[Example], list[Example]]:
    """Deterministic (hash of normalised text) split: (train, fixed evaluation set for the promotion gate).

    The same text always lands on the same side, so every model version is
    compared on the same held-out examples and none of them trains on them.
    """
    train, gate = [], []
    for ex in examples:
        h = int(hashlib.sha256(text_key(ex.text).encode("utf-8")).hexdigest()[:8], 16)
        (gate if ex.source in EVAL_CORPORA and h / 0xFFFFFFFF < fraction else train).append(ex)
    return train, gate


def gate_keys(examples: list[Example]) -> set[str]:
    return {text_key(ex.text) for ex in examples}
