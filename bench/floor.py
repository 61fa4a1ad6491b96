"""The vote's floor: the least a Flask app can do to take a vote as the issue asks, served by
gunicorn exactly like the marketplace, on the same database.

A signed session cookie says who votes, CSRFProtect checks the token, and one durable
transaction (plain psycopg, no ORM, no SQLAlchemy) runs the marketplace's statements: the
account must exist and be verified, the design row is locked, its state, deadline and
designer are checked, the account's vote is inserted or changed, the design's totals move,
and the answer is a flash message and a redirect. What the marketplace adds on top (Flask-Login,
WTForms, SQLAlchemy, security headers, the page cache's pass-through) is the gap between this
row and the real vote's; what this row lacks against the minimal endpoint is the price of
taking a vote at all on this machine.

Only ``bench.run`` starts it, on 127.0.0.1: ``/login/<id>`` logs anyone in, without password.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

import psycopg
from flask import Flask, abort, flash, redirect, request, session
from flask_wtf.csrf import CSRFProtect, generate_csrf

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["FLOOR_SECRET_KEY"]
CSRFProtect(app)
_local = threading.local()


def _connection() -> psycopg.Connection:
    # One connection per gunicorn thread, opened once: the marketplace's pool does the same.
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["DATABASE_URL"])
    return conn


@app.get("/ping")
def ping():
    return "ok"


@app.get("/login/<int:user_id>")
def login(user_id: int):
    session["uid"] = user_id
    return generate_csrf()


@app.post("/designs/<int:design_id>/vote")
def vote(design_id: int):
    user_id = session.get("uid")
    if user_id is None:
        abort(401)
    score = request.form.get("score", type=int)
    if score is None or not 0 <= score <= 5:
        abort(422)
    would_buy = request.form.get("would_buy") == "y"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn = _connection()
    with conn.transaction():
        user = conn.execute(
            "SELECT email_verified_at FROM users WHERE id = %s", (user_id,)
        ).fetchone()
        if user is None or user[0] is None:
            abort(403)
        design = conn.execute(
            "SELECT designer_id, state, voting_closes_at FROM designs WHERE id = %s FOR UPDATE",
            (design_id,),
        ).fetchone()
        if design is None:
            abort(404)
        designer_id, state, closes_at = design
        if designer_id == user_id:
            abort(403)
        if state != "voting" or now >= closes_at:
            abort(409)
        old = conn.execute(
            "SELECT score, would_buy FROM votes WHERE design_id = %s AND user_id = %s",
            (design_id, user_id),
        ).fetchone()
        if old is None:
            conn.execute(
                "INSERT INTO votes (design_id, user_id, score, would_buy, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (design_id, user_id, score, would_buy, now, now),
            )
        else:
            conn.execute(
                "UPDATE votes SET score = %s, would_buy = %s, variant_id = NULL, updated_at = %s"
                " WHERE design_id = %s AND user_id = %s",
                (score, would_buy, now, design_id, user_id),
            )
        conn.execute(
            "UPDATE designs SET vote_count = vote_count + %s, score_sum = score_sum + %s,"
            " buy_count = buy_count + %s WHERE id = %s",
            (
                int(old is None),
                score - (old[0] if old else 0),
                int(would_buy) - int(bool(old and old[1])),
                design_id,
            ),
        )
    flash("Your score is saved.")
    return redirect(f"/designs/{design_id}#scores")
