"""gunicorn settings for a checkout (`gunicorn -c gunicorn.conf.py spamguard.wsgi:app`): the packaged ones."""

from spamguard.gunicorn_conf import *  # noqa: F401,F403
