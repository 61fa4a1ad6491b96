"""Pages of no single package: home, how it works, the health check, the dev mail viewer."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.queues import redis_connection

main = Blueprint("main", __name__)
dev = Blueprint("dev", __name__, url_prefix="/dev")


@main.get("/")
@cached_for_anonymous
def home():
    return render_template("marketplace/home.html")


@main.get("/about/how-it-works")
@cached_for_anonymous
def how_it_works():
    """The whole pipeline explained in public: scoring, selection, all-or-nothing charging,
    the card fix window, royalties and the licence."""
    return render_template("marketplace/how_it_works.html")


@main.get("/healthz")
def healthz():
    """For load balancers and monitors: 200 only when both stores answer."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        redis_connection().ping()
        checks["redis"] = "ok"
    except (RedisError, OSError) as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return jsonify(body), 200 if healthy else 503


# --- development only -------------------------------------------------------------------------


@dev.get("/mail")
def mail_outbox():
    """Registered only when MAIL_DEV_VIEWER is on (development)."""
    mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id.desc()).limit(50)).all()
    return render_template("dev/mail.html", mails=mails)
