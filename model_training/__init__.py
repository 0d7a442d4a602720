"""Offline training, evaluation and the model registry (see `spamguard model --help`)."""
