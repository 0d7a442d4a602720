"""Score a handful of obvious spam / ham probes through a registered model (sanity check, not a metric).

    python bench/model_probes.py [--model-dir DIR] [VERSION]

Prints each probe's calibrated probability and the band it falls in at the version's thresholds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spamguard.comment import Comment  # noqa: E402
from spamguard.scoring.registry import Registry  # noqa: E402

SPAM = [
    "Buy cheap viagra online http://pharma.example/buy now!!!",
    "CHECK OUT MY CHANNEL!!! subscribe to my channel please http://youtube.com/user/xyz",
    "Cheap replica watches and handbags, free shipping, visit www.replica-shop.example today",
    "Make $5000 a week working from home! Click here: http://bit.ly/easy-money",
    "Congratulations! You have won a FREE iPhone. Claim your prize now at http://prize.example",
    "Great post! I will share it. My site: http://casino-online.example best online casino bonus",
    "URGENT! Your account is suspended, verify your password at http://secure-login.example",
    "dm me for crypto investment, I earn $3000 weekly with expert trader, message @fxtrader now",
]
HAM = [
    "wow, 20 million subscribers already",
    "this must be the biggest channel on the site now",
    "Thanks for the clear explanation, the second step fixed my printer's bed levelling.",
    "I disagree: the rear derailleur hanger is usually the problem, see the manual at https://example.org/manual",
    "Labelling every box by room saved us hours on the first evening.",
    "Ok, see you at 7 then. Bring the charger please.",
    "This song never gets old, still listening in 2015",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("version", nargs="?")
    args = parser.parse_args()
    if args.model_dir is None:
        from spamguard.config import from_env

        args.model_dir = from_env()["SPAMGUARD_MODEL_DIR"]
    registry = Registry(args.model_dir)
    version = args.version or registry.current_version()
    model, manifest = registry.load(version)
    th = manifest["thresholds"]
    print(
        f"version {version} thresholds unsure {th['unsure']:.3f} spam {th['spam']:.3f} "
        f"discard {th['discard']:.3f} calibration a={model.a:.3f} b={model.b:.3f}"
    )

    def band(p: float) -> str:
        return (
            "discard" if p >= th["discard"] else "spam" if p >= th["spam"] else "unsure" if p >= th["unsure"] else "ham"
        )

    for kind, texts in (("spam", SPAM), ("ham", HAM)):
        probs = model.predict_proba([Comment(comment_content=t) for t in texts])
        for t, p in zip(texts, probs, strict=True):
            print(f"{kind:4s} {p:.3f} {band(p):7s} {t[:80]}")


if __name__ == "__main__":
    main()
