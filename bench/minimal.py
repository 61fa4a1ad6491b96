"""The baseline: the smallest Flask app, served by gunicorn exactly like the marketplace."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
