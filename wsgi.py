"""Entry point for gunicorn and the flask CLI: ``gunicorn wsgi:app``."""

from marketplace import create_app

app = create_app()
