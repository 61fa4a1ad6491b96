"""The vote's floor: the least a Flask app can do to take a vote as the issue asks, served by
gunicorn exactly like the marketplace, on the same database.

A signed session cookie says who votes, CSRFProtect checks the token, and one round trip to
PostgreSQL (plain psycopg calling a PL/pgSQL function, one durable transaction) does what the
marketplace's vote does: the account must exist and be verified, the design row is locked,
its state, deadline and designer are checked, the account's vote is inserted or changed, the
design's totals move. The answer is a flash message and a redirect; ``/quiet/...`` answers
with the redirect alone, so that the session is never rewritten.

What the marketplace adds on top (Flask-Login, WTForms, SQLAlchemy, several statements,
security headers, the page cache's pass-through) is the gap between this row and the real
vote's; what this row lacks against the minimal endpoint is the price of taking a vote at all,
safely, in a Flask app on this machine.

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
# Set by bench.run for the server; bench.run itself imports this module only to install SQL.
app.config["SECRET_KEY"] = os.environ.get("FLOOR_SECRET_KEY")
CSRFProtect(app)
_local = threading.local()


def _connection() -> psycopg.Connection:
    # One connection per gunicorn thread, opened once: the marketplace's pool does the same.
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
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
    _take_vote(design_id)
    flash("Your score is saved.")
    return redirect(f"/designs/{design_id}#scores")


@app.post("/quiet/designs/<int:design_id>/vote")
def quiet_vote(design_id: int):
    # No flash, so the session is read but never rewritten: no Set-Cookie to sign.
    _take_vote(design_id)
    return redirect(f"/designs/{design_id}#scores")


def _take_vote(design_id: int) -> None:
    user_id = session.get("uid")
    if user_id is None:
        abort(401)
    score = request.form.get("score", type=int)
    if score is None or not 0 <= score <= 5:
        abort(422)
    would_buy = request.form.get("would_buy") == "y"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    status = (
        _connection()
        .execute(
            "SELECT bench_floor_vote(%s, %s, %s, %s, %s)",
            (design_id, user_id, score, would_buy, now),
        )
        .fetchone()[0]
    )
    if status != 200:
        abort(status)


# The vote in one round trip: the checks and statements of ``designs.services.cast_vote`` in a
# PL/pgSQL function, committed on its own (the connection autocommits).
FUNCTION = """
CREATE OR REPLACE FUNCTION bench_floor_vote(
    p_design int, p_user int, p_score int, p_buy bool, p_now timestamp
) RETURNS int AS $$
DECLARE
    d record;
    old record;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user AND email_verified_at IS NOT NULL;
    IF NOT FOUND THEN RETURN 403; END IF;
    SELECT designer_id, state, voting_closes_at INTO d FROM designs WHERE id = p_design FOR UPDATE;
    IF NOT FOUND THEN RETURN 404; END IF;
    IF d.designer_id = p_user THEN RETURN 403; END IF;
    IF d.state <> 'voting' OR p_now >= d.voting_closes_at THEN RETURN 409; END IF;
    SELECT score, would_buy INTO old FROM votes WHERE design_id = p_design AND user_id = p_user;
    IF NOT FOUND THEN
        INSERT INTO votes (design_id, user_id, score, would_buy, created_at, updated_at)
        VALUES (p_design, p_user, p_score, p_buy, p_now, p_now);
        UPDATE designs SET vote_count = vote_count + 1, score_sum = score_sum + p_score,
            buy_count = buy_count + p_buy::int WHERE id = p_design;
    ELSE
        UPDATE votes SET score = p_score, would_buy = p_buy, variant_id = NULL, updated_at = p_now
        WHERE design_id = p_design AND user_id = p_user;
        UPDATE designs SET score_sum = score_sum + p_score - old.score,
            buy_count = buy_count + p_buy::int - old.would_buy::int WHERE id = p_design;
    END IF;
    RETURN 200;
END
$$ LANGUAGE plpgsql
"""


def install(conninfo: str) -> None:
    """Create the function (``bench.run`` calls it before starting this server)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(FUNCTION)


def uninstall(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP FUNCTION IF EXISTS bench_floor_vote(int, int, int, bool, timestamp)")
