"""WSGI entry point for gunicorn: `gunicorn spamguard.wsgi:app`."""

from spamguard.app import create_app

app = create_app()
