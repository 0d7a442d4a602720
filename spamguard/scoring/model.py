"""Serving side: a loaded model (`Scorer`) and the hot-reloading `ModelHolder`.

The artifact (``model.joblib``) is a :class:`SpamModel`: the fitted sklearn
pipeline (features → LogisticRegression) plus a Platt calibration
``logit = a * decision + b``.  On the request path we do not call
``pipeline.predict_proba`` (≈ 1-2 ms of sklearn validation/overhead per call):
:meth:`SpamModel.fast_logit` runs the vectorisers' analyzers directly and
accumulates TF-IDF weights × coefficients in Python dicts, which also yields
the per-feature contributions used for the explanations.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spamguard.comment import Comment
from spamguard.memory import release_freed_memory_later
from spamguard.scoring.explain import useful_feature
from spamguard.scoring.features import (
    EMAIL_TOKEN,
    SELF_LINK_TOKEN,
    URL_TOKEN,
    comment_text,
    find_urls,
    meta_dict,
    normalise_text,
)
from spamguard.scoring.normalize import deobfuscate
from spamguard.scoring.registry import Registry

log = logging.getLogger(__name__)


class NoModelError(RuntimeError):
    """No servable model: none promoted yet, or none that verifies (`retry_after` seconds until the next try)."""

    def __init__(self, message: str, retry_after: float = 60.0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Score:
    probability: float
    logit: float
    reasons: list[str] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class _TextBlock:
    """Precomputed view of one fitted TfidfVectorizer: analyzer, token → (idf·coef, idf)."""

    def __init__(self, name: str, vectorizer: Any, coef: np.ndarray):
        self.name = name
        self.analyzer = vectorizer.build_analyzer()
        self.sublinear = bool(vectorizer.sublinear_tf)
        idf = vectorizer.idf_ if getattr(vectorizer, "use_idf", True) else np.ones(len(coef))
        self.weights: dict[str, tuple[float, float]] = {
            token: (float(idf[i]), float(coef[i])) for token, i in vectorizer.vocabulary_.items()
        }

    def contributions(self, text: str) -> tuple[float, dict[str, float]]:
        counts = Counter(self.analyzer(text))
        total, norm2, parts = 0.0, 0.0, {}
        for token, tf in counts.items():
            entry = self.weights.get(token)
            if entry is None:
                continue
            idf, coef = entry
            w = (1.0 + math.log(tf) if self.sublinear else float(tf)) * idf
            norm2 += w * w
            parts[token] = w * coef
        if not parts:
            return 0.0, {}
        norm = math.sqrt(norm2)
        for token, value in parts.items():
            parts[token] = value / norm
            total += value / norm
        return total, parts


class SpamModel:
    """A trained model: the sklearn pipeline + Platt calibration + a precomputed fast path."""

    def __init__(self, pipeline: Any, calibration: tuple[float, float], params: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.a, self.b = float(calibration[0]), float(calibration[1])
        self.params = dict(params or {})
        self._build_fast_path()

    # Pickle only the sklearn objects; the dict-based fast path is rebuilt on load.
    def __getstate__(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "a": self.a, "b": self.b, "params": self.params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pipeline, self.a, self.b, self.params = state["pipeline"], state["a"], state["b"], state["params"]
        self._build_fast_path()

    def _build_fast_path(self) -> None:
        union = self.pipeline.named_steps["features"]
        clf = self.pipeline.named_steps["clf"]
        coef = np.asarray(clf.coef_).ravel()
        self.intercept = float(np.asarray(clf.intercept_).ravel()[0])
        self.blocks: list[_TextBlock] = []
        self.meta = None
        offset = 0
        for name, transformer in union.transformer_list:
            if name == "meta":
                width = len(transformer.vocabulary_)
                self.meta = transformer
                self.meta_coef = coef[offset:offset + width] / transformer.scale_
            else:
                vec = transformer.named_steps["tfidf"]
                width = len(vec.vocabulary_)
                self.blocks.append(_TextBlock(name, vec, coef[offset:offset + width]))
            offset += width
        if offset != len(coef):
            raise ValueError(f"feature width mismatch: {offset} != {len(coef)}")

    # -- scoring -------------------------------------------------------------------------------
    def contributions(self, comment: Comment) -> tuple[float, list[tuple[str, str, float]]]:
        """Raw decision value and (block, feature, contribution) for one comment."""
        # Not memoised: a served comment is seldom seen again, and a memo of them only grows the worker.
        text = comment_text(comment, memo=False)
        total = self.intercept
        parts: list[tuple[str, str, float]] = []
        for block in self.blocks:
            value, contrib = block.contributions(text)
            total += value
            parts.extend((block.name, tok, c) for tok, c in contrib.items())
        if self.meta is not None:
            for key, value in meta_dict(comment).items():
                i = self.meta.vocabulary_.get(key)
                if i is not None and value:
                    c = value * self.meta_coef[i]
                    total += c
                    parts.append(("meta", key, c))
        return total, parts

    def calibrated_logit(self, decision: np.ndarray | float) -> Any:
        return self.a * decision + self.b

    def decision_function(self, comments: list[Comment]) -> np.ndarray:
        """Batch path via sklearn (training/evaluation)."""
        return self.pipeline.decision_function(comments)

    def predict_proba(self, comments: list[Comment]) -> np.ndarray:
        """Calibrated spam probabilities, batch path via sklearn."""
        return 1.0 / (1.0 + np.exp(-self.calibrated_logit(self.decision_function(comments))))


# Always-present shape features: explained relative to the training mean ("long comment").
SHAPE_FEATURES = {
    "length": ("long comment", "short comment"),
    "caps_ratio": ("many capital letters", "few capital letters"),
    "digit_ratio": ("many digits", "few digits"),
    "punct_ratio": ("much punctuation", "little punctuation"),
    "exclamations": ("exclamation marks", "few exclamation marks"),
    "max_repeat": ("repeated characters", "no repeated characters"),
    "post_age_days": ("comment on an old post", "comment on a recent post"),
}
META_NAMES = {
    "has_author_url": "author URL given", "has_email": "author email given",
    "author_urlish": "author name looks like a URL", "has_user_agent": "user agent given",
    "ua_bot": "user agent looks like a bot", "has_referrer": "referrer given",
    "honeypot_filled": "honeypot field filled", "post_age_known": "post date known",
    "self_links": "links to the page itself",
    "mixed_script_words": "letters from mixed alphabets", "spaced_letters": "spaced-out letters",
    "spelled_out_dot": "domain written with 'dot'", "link_shorteners": "link shortener",
    "link_referrer_spam": "link to a known spam domain", "email_disposable": "disposable email address",
    "ak_js_default": "page script never ran", "ak_js_not_posted": "form posted without the page script",
    "ak_js_fast": "submitted seconds after the page loaded", "nonce_failed": "form nonce failed",
    "nonce_passed": "form nonce passed", "logged_in": "logged-in user", "no_accept_language": "no browser language header",
}


def _links(comment: Comment) -> str:
    n = len(find_urls(deobfuscate(normalise_text(comment.comment_content))))
    n = max(n, 1)
    return f"contains {n} link{'s' if n != 1 else ''}"


def _describe(block: str, feature: str, comment: Comment, above_mean: bool = True) -> str:
    if block == "meta":
        if feature == "n_links":
            return _links(comment)
        if "=" in feature:
            kind, value = feature.split("=", 1)
            return {"link_domain": "link domain", "email_domain": "email domain",
                    "comment_type": "comment type"}.get(kind, kind) + f" {value}"
        if feature in SHAPE_FEATURES:
            return SHAPE_FEATURES[feature][0 if above_mean else 1]
        return META_NAMES.get(feature, feature)
    if block == "word":
        if feature == URL_TOKEN:
            return _links(comment)
        if feature == EMAIL_TOKEN:
            return "contains an email address"
        if feature == SELF_LINK_TOKEN:
            return "links to the page itself"
        words = []
        for word in feature.split(" "):
            if word == URL_TOKEN:
                word = "<link>"
            elif word == SELF_LINK_TOKEN:
                word = "<link to this page>"
            elif word == EMAIL_TOKEN:
                word = "<email>"
            elif word.isdigit():
                word = f"<{len(word)}-digit number>"
            words.append(word)
        shown = " ".join(words)
        if len(feature) == 1 and not feature.isalnum():
            return f'punctuation "{shown}"'
        return f'{"phrase" if len(words) > 1 else "word"} "{shown}"'
    return f'text fragment "{feature.strip()}"'


class Scorer:
    """One loaded, verified model version."""

    def __init__(self, model: SpamModel, version: str, thresholds: dict[str, float],
                 manifest: dict[str, Any] | None = None):
        self.model = model
        self.version = version
        self.thresholds = dict(thresholds)
        self.manifest = manifest or {}

    def score(self, comment: Comment, top: int = 3) -> Score:
        decision, parts = self.model.contributions(comment)
        logit = self.model.calibrated_logit(decision)
        probability = _sigmoid(logit)
        return Score(probability, float(logit), self._reasons(comment, parts, logit >= 0, top))

    def score_many(self, comments: list[Comment], top: int = 3) -> list[Score]:
        return [self.score(c, top) for c in comments]

    def _reasons(self, comment: Comment, parts: list[tuple[str, str, float]], spammy: bool, top: int) -> list[str]:
        """Top signals pushing towards the verdict's side (spam if logit ≥ 0, else ham)."""
        sign = 1.0 if spammy else -1.0
        meta = self.model.meta
        ranked: list[tuple[float, str, str, bool]] = []
        for block, feature, contribution in parts:
            above = True
            if block == "meta" and feature in SHAPE_FEATURES and meta is not None:
                # Relative to a typical training comment, so "length" is not a reason for everything.
                i = meta.vocabulary_[feature]
                coef = self.model.meta_coef[i]
                value = contribution / coef if coef else 0.0
                mean = meta.means_[i] if hasattr(meta, "means_") else 0.0
                above = value >= mean
                contribution = (value - mean) * coef
            if sign * contribution > 0:
                ranked.append((sign * contribution, block, feature, above))
        ranked.sort(key=lambda r: -r[0])
        reasons: list[str] = []
        for _c, block, feature, above in ranked:
            if not useful_feature(block, feature):  # function words and character fragments
                continue
            text = _describe(block, feature, comment, above)
            if text not in reasons:
                reasons.append(text)
            if len(reasons) >= top:
                break
        prefix = "spam signal: " if spammy else "ham signal: "
        return [prefix + r for r in reasons[:top]]


def load_scorer(registry_dir: str | Path, version: str) -> Scorer:
    model, manifest = Registry(registry_dir).load(version)
    return Scorer(model, version, manifest["thresholds"], manifest)


class ModelHolder:
    """The currently promoted model of a registry, hot-reloaded, failing safe.

    ``current()`` re-reads the pointer file (``current.json``) at most every
    ``reload_seconds``.  A new version is loaded and verified completely before
    the reference is swapped (one attribute assignment), so a request never sees
    a half-loaded model.

    A version that fails to load (checksum mismatch, unreadable pickle) is logged
    once and retried with exponential back-off (``retry_seconds`` doubling up to
    ``max_retry_seconds``), never once per request: hashing a large artifact per
    request would be a denial of service of its own.  Meanwhile the worker keeps the
    model it has, or, freshly started, loads the most recent earlier promoted version
    that verifies.  Only when no version is good does ``current()`` raise
    :class:`NoModelError`, carrying how long until the next try (for ``Retry-After``).
    """

    def __init__(self, model_dir: str | Path, reload_seconds: float = 2.0,
                 loader: Callable[[Path, str], Scorer] | None = None, *,
                 retry_seconds: float = 10.0, max_retry_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self.model_dir = Path(model_dir)
        self.reload_seconds = float(reload_seconds)
        self.retry_seconds = float(retry_seconds)
        self.max_retry_seconds = float(max_retry_seconds)
        self._loader = loader or load_scorer
        self._clock = clock
        self._scorer: Scorer | None = None
        self._wanted: str | None = None  # the pointer's version at the last check
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._broken: dict[str, tuple[int, float]] = {}  # version -> (failures, monotonic time of next try)

    def _pointer_version(self) -> str | None:
        try:
            data = json.loads((self.model_dir / "current.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("unreadable model pointer %s", self.model_dir / "current.json")
            return None
        return data.get("version")

    def _due(self, now: float) -> bool:
        return now - self._checked_at >= self.reload_seconds

    def refresh(self, force: bool = False) -> None:
        now = self._clock()
        if not force and not self._due(now):
            return
        # One thread reloads; others keep serving the old model (or wait on the very first load).
        if not self._lock.acquire(blocking=self._scorer is None or force):
            return
        try:
            now = self._clock()
            if not force and not self._due(now):  # another thread did it while this one waited
                return
            self._checked_at = now
            self._wanted = version = self._pointer_version()
            if version is None or (self._scorer is not None and self._scorer.version == version):
                return
            if self._try_load(version, now):
                return
            if self._scorer is None:
                self._fall_back(version, now)
        finally:
            self._lock.release()

    def _try_load(self, version: str, now: float) -> bool:
        """Load and swap in `version` unless it is broken and its back-off has not passed."""
        failures, next_try = self._broken.get(version, (0, float("-inf")))
        if now < next_try:
            return False
        try:
            scorer = self._loader(self.model_dir, version)
        except Exception as exc:  # noqa: BLE001 - any load failure means "not servable"
            delay = min(self.retry_seconds * 2 ** failures, self.max_retry_seconds)
            self._broken[version] = (failures + 1, now + delay)
            if failures == 0:  # logged once per broken version; the retries are silent
                serving = self._scorer.version if self._scorer else None
                log.error("model %s fails verification (%s); serving %s, retrying with back-off",
                          version, exc, serving or "the last good version")
            return False
        if failures:
            log.info("model %s verifies again after %d failed attempts", version, failures)
        self._broken.pop(version, None)
        replaced, self._scorer = self._scorer, scorer  # atomic swap
        log.info("model %s loaded", version)
        if replaced is not None:
            del replaced
            # Freed model pages stay mapped otherwise (a step in RSS per promotion); a few seconds
            # later in-flight checks no longer hold the old model.
            release_freed_memory_later()
        return True

    def _fall_back(self, broken: str, now: float) -> None:
        """A worker with no model yet: serve the most recent earlier promoted version that verifies."""
        try:
            candidates = Registry(self.model_dir).fallbacks(exclude=broken)
        except Exception:  # noqa: BLE001 - an unreadable history just means no fallback
            log.exception("model history unreadable in %s", self.model_dir)
            return
        for version in candidates:
            if self._try_load(version, now):
                log.warning("serving last good model %s instead of %s", version, broken)
                return

    def status(self) -> dict[str, Any]:
        """What this worker serves and whether it is the promoted version (for readiness checks)."""
        serving = self._scorer.version if self._scorer else None
        return {"serving": serving, "promoted": self._wanted, "degraded": serving != self._wanted}

    def current(self) -> Scorer:
        self.refresh()
        scorer = self._scorer
        if scorer is None:
            waits = [next_try - self._clock() for _, next_try in list(self._broken.values())]
            if waits:
                raise NoModelError(f"no model in {self.model_dir} verifies; see the log",
                                   retry_after=max(1.0, min(waits)))
            raise NoModelError(f"no promoted model in {self.model_dir}; run `spamguard model train`")
        return scorer
