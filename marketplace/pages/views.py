"""Pages of no single package: home, how it works, the health check, the dev mail viewer."""

from __future__ import annotations

import hmac
import ipaddress

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_decimal
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from designs import queries as designs
from marketplace.accounts import services as accounts
from marketplace.accounts.views import safe_next
from marketplace.campaigns import queries as campaigns
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import LANGUAGES
from marketplace.kernel.models import OutboxMail
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.queues import redis_connection
from marketplace.kpis import dashboard as kpi_dashboard
from marketplace.kpis import indicators as kpis
from marketplace.production import queries as production
from payments import queries as payments

main = Blueprint("main", __name__)
dev = Blueprint("dev", __name__, url_prefix="/dev")


#: How many of each the home page lists.
HOME_LIST_LENGTH = 4


@main.get("/")
@cached_for_anonymous
def home():
    """What is going on now: campaigns ending soon, designs open for scoring, the latest
    products made, and the platform's figures. Anonymous visitors get a copy at most
    ``PAGE_CACHE_SECONDS`` old (10 s by default: the copy expires, nothing needs to drop it);
    members always get it fresh."""
    return render_template(
        "marketplace/home.html",
        ending_soon=campaigns.live_campaigns("ending", limit=HOME_LIST_LENGTH),
        open_for_scoring=designs.open_for_scoring(limit=HOME_LIST_LENGTH),
        produced=production.produced_runs(limit=HOME_LIST_LENGTH),
        figures={
            "produced": production.produced_count(),
            "backers": campaigns.backer_total(),
            "royalties": payments.royalties_earned(),
        },
        now=utcnow(),
    )


@main.get("/impact")
@cached_for_anonymous
def impact():
    """What the community has done since the start, from the KPI rollups (brought up to date
    every 15 minutes): anonymous visitors get a copy at most ``PAGE_CACHE_SECONDS`` old."""
    impact = kpis.impact()
    average = impact.average_rating
    return render_template(
        "marketplace/impact.html",
        impact=impact,
        # One decimal, as the dashboard writes it: "4.0 / 5", "4,0 / 5".
        stars=None if average is None else format_decimal(average, "#,##0.0"),
        rolled_at=kpi_dashboard.generation().rolled_at,
    )


@main.route("/language/<code>", methods=["GET", "POST"])
def language(code: str):
    """The switcher. A visitor's choice is kept in the session; someone logged in saves it on
    the account (a POST with its CSRF token, which Flask-WTF checks), so that mail follows."""
    if code not in LANGUAGES:
        abort(404)
    session["language"] = code
    if request.method == "POST" and current_user.is_authenticated:
        accounts.set_language(current_user, code)
        db.session.commit()
    return redirect(safe_next(request.args.get("next")), 303)


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


_DEV_MAIL_SESSION_KEY = "dev_mail_token"


def _from_loopback() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _matches_run_token(given: str | None) -> bool:
    token = current_app.config.get("MAIL_DEV_VIEWER_TOKEN")
    return bool(token and given) and hmac.compare_digest(given.encode(), token.encode())


def may_read_dev_mail() -> bool:
    """The outbox holds every reset and verification link: an operator may read it, and
    otherwise only a browser on this machine that was given ``make run``'s token for this
    run. The session keeps the token itself, not a "seen it" flag: the development
    SECRET_KEY is public, so a flag in a session cookie could be forged, the token cannot."""
    if current_user.is_authenticated and current_user.is_operator:
        return True
    return _from_loopback() and _matches_run_token(session.get(_DEV_MAIL_SESSION_KEY))


@dev.app_context_processor
def dev_mail_link():
    # Mail rendered by a worker has no request, and nobody to show the link to.
    return {"dev_mail_link": has_request_context() and may_read_dev_mail()}


@dev.get("/mail")
def mail_outbox():
    """Registered only when MAIL_DEV_VIEWER is on (development). Anyone else gets the 404 of
    a page that does not exist."""
    given = request.args.get("token")
    if given is not None and _from_loopback() and _matches_run_token(given):
        session[_DEV_MAIL_SESSION_KEY] = given
        # Out of the address bar and the history, now that the session holds it.
        return redirect(url_for("dev.mail_outbox"))
    if not may_read_dev_mail():
        abort(404)
    mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id.desc()).limit(50)).all()
    return render_template("dev/mail.html", mails=mails)
