"""Copy (and subsample) the extra public corpora SpamGuard trains on from the shared data folder into data/.

Deterministic: rerunning it on the same upstream files produces the same bytes.
Usage: python scripts/import_shared_data.py [/work/shared/data]

* Stack Exchange comments (CC BY-SA): a thread-grouped subsample, 3,000 comments per site, written as
  TSV with the site, comment id, post id, author link, licence and the unchanged text (attribution kept).
* Instagram scam comments (MIT repository): comments-rated.csv only (never the "plus-reported" file,
  whose appended rows leak the label through case and punctuation), byte for byte.
* WordPress comment-bot spintax templates (MIT), byte for byte.
* Telegram group spam samples (tg-spam, MIT): spam-samples.txt byte for byte (the loader keeps its English,
  collected lines only; training only).
* Referrer-spam hosts (public domain), disposable e-mail domains (CC0), shortener hosts and the comment-bot
  blocklist (MIT), byte for byte, into spamguard/scoring/lists/ (features need them at serving time).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "data"
SE_SITES = ("bicycles.stackexchange.com", "3dprinting.stackexchange.com", "alcohol.stackexchange.com")
SE_PER_SITE = 3000


def _cc(created: str) -> str:
    return "CC BY-SA 2.5" if created < "2011-04-08" else "CC BY-SA 3.0" if created < "2018-05-02" else "CC BY-SA 4.0"


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def stackexchange(src: Path) -> None:
    out_dir = ROOT / "stackexchange-comments"
    out_dir.mkdir(exist_ok=True)
    rows = []
    for site in SE_SITES:
        site_rows = []
        for row in ET.parse(src / site / "Comments.xml").getroot():
            author = row.get("UserDisplayName") or (
                f"https://{site}/users/{row.get('UserId')}" if row.get("UserId") else "anonymous (deleted account)"
            )
            lic = row.get("ContentLicense")
            lic = f"CC BY-SA {lic.split()[-1]}" if lic else _cc(row.get("CreationDate", ""))
            site_rows.append((site, row.get("Id"), row.get("PostId"), author, lic, row.get("Text", "")))
        # Whole threads, chosen by a hash of (site, post): the subsample keeps threads intact.
        site_rows.sort(key=lambda r: (_h(f"{r[0]}/{r[2]}"), int(r[1])))
        rows += sorted(site_rows[:SE_PER_SITE], key=lambda r: int(r[1]))
    with open(out_dir / "comments.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("site", "comment_id", "post_id", "author", "license", "text"))
        for r in rows:
            writer.writerow(r[:5] + (r[5].replace("\r", " ").replace("\n", " ").replace("\t", " "),))


def copy(src: Path, folder: str, names: tuple[str, ...], dest_folder: str | None = None) -> None:
    dest = ROOT / (dest_folder or folder)
    dest.mkdir(exist_ok=True)
    for name in names:
        shutil.copyfile(src / folder / name, dest / name)


def main(argv: list[str]) -> None:
    src = Path(argv[1] if len(argv) > 1 else "/work/shared/data")
    stackexchange(src / "stackexchange-comments")
    copy(src, "instagram-scam-comments", ("comments-rated.csv", "LICENSE"))
    copy(src, "wordpress-comment-blacklist", ("constructs.txt", "license.txt"))
    copy(src, "telegram-spam-samples", ("spam-samples.txt", "LICENSE"))
    # Host lists are read at serving time, so they live in the package (spamguard/scoring/lists/).
    lists = Path(__file__).resolve().parent.parent / "spamguard" / "scoring" / "lists"
    for folder, name, dest in (
        ("referrer-spam-domains", "spammers.txt", "referrer_spam.txt"),
        ("disposable-email-domains", "disposable_email_blocklist.conf", "disposable_email.txt"),
        ("disposable-email-domains", "LICENSE.txt", "LICENSE-disposable-email.txt"),
        ("wordpress-comment-blacklist", "shorteners.txt", "shorteners.txt"),
        ("wordpress-comment-blacklist", "blacklist.txt", "blocklist.txt"),
        ("wordpress-comment-blacklist", "license.txt", "LICENSE-wordpress-comment-blacklist.txt"),
    ):
        shutil.copyfile(src / folder / name, lists / dest)


if __name__ == "__main__":
    main(sys.argv)
