"""Only for what pyproject.toml cannot say: ship the checkout's data/ (the bundled corpora) as package
`spamguard_corpora`, so an installed SpamGuard can train without a checkout."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["spamguard*", "model_training*"]) + ["spamguard_corpora"],
    package_dir={"spamguard_corpora": "data"},
)
