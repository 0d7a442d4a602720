"""`python -m model_training ...` == `spamguard model ...`."""

from model_training.cli import main

if __name__ == "__main__":
    main()
