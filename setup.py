"""Only for what pyproject.toml cannot say: ship the checkout's data/ (the bundled corpora) as package
`spamguard_corpora`, so an installed SpamGuard can train without a checkout.

Namespace packages, so the data directories (templates, static files, migrations, lists) are packages
setuptools knows: with plain `find_packages` every install warned, five times, that they "would be ignored"
(the wheel's files are the same either way)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["spamguard*", "model_training*"], exclude=["*.__pycache__"])
    + ["spamguard_corpora"],
    package_dir={"spamguard_corpora": "data"},
)
