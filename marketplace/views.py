"""Pages of the core: home, accounts, the operator console's front page, health, dev mail."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from . import services
from .authz import operator_required
from .dbtypes import utcnow
from .extensions import db, limiter
from .forms import (
    ButtonForm,
    DesignerTermsForm,
    EmailForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
)
from .models import AuditEvent, MailStatus, OutboxMail, User
from .pagecache import cached_for_anonymous
from .queues import redis_connection

main = Blueprint("main", __name__)
accounts = Blueprint("accounts", __name__, url_prefix="/account")
operator = Blueprint("operator", __name__, url_prefix="/operator")
dev = Blueprint("dev", __name__, url_prefix="/dev")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("main.home")


# --- main -------------------------------------------------------------------------------------


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


# --- accounts ---------------------------------------------------------------------------------


def _login_failed(response) -> bool:
    return response.status_code == 401


def _login_account_key() -> str:
    return "login-account:" + services.normalise_email(request.form.get("email", ""))


@accounts.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT"], methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.register(form.email.data, form.display_name.data, form.password.data)
        except services.EmailTaken as exc:
            form.email.errors.append(str(exc))
            status = 409
        except services.AccountError as exc:
            form.password.errors.append(str(exc))
            status = 422
        else:
            db.session.commit()
            login_user(user)
            flash(
                f"Welcome, {user.display_name}! We sent a link to {user.email} to confirm it.",
                "success",
            )
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/register.html", form=form), status


@accounts.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_login_failed
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            # One message for an unknown address and a wrong password: no account probing.
            form.password.errors.append("That email and password do not match an account.")
            status = 401
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/login.html", form=form), status


@accounts.post("/logout")
@login_required
def logout():
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))


@accounts.get("/verify/<token>")
def verify_email(token: str):
    try:
        user = services.verify_email(token)
    except services.InvalidToken as exc:
        return render_template("accounts/token_invalid.html", message=str(exc)), 400
    db.session.commit()
    flash(
        "Your email address is confirmed. You can now score designs and back campaigns.", "success"
    )
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


@accounts.post("/verify/resend")
@login_required
@limiter.limit(lambda: current_app.config["MAIL_LINK_LIMIT"], methods=["POST"])
def resend_verification():
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_verified:
        flash("Your email address is already confirmed.", "info")
    else:
        services.send_verification(current_user)
        db.session.commit()
        flash(f"We sent a new link to {current_user.email}.", "success")
    return redirect(url_for("accounts.profile"))


@accounts.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_LINK_LIMIT"], methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(
            "If an account uses that address, a reset link is on its way. It works for one hour.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), 422 if form.is_submitted() else 200


@accounts.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        services.user_for_reset_token(token)
    except services.InvalidToken as exc:
        return render_template("accounts/token_invalid.html", message=str(exc)), 400
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except services.AccountError as exc:
            form.password.errors.append(str(exc))
            status = 422
        else:
            db.session.commit()
            login_user(user)
            flash("Your password is changed, and every other session is logged out.", "success")
            return redirect(url_for("accounts.profile"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/reset.html", form=form), status


@accounts.route("/", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    status = 200
    if form.validate_on_submit():
        services.update_profile(current_user, form.display_name.data)
        db.session.commit()
        flash("Profile saved.", "success")
        return redirect(url_for("accounts.profile"))
    if form.is_submitted():
        status = 422
    return render_template(
        "accounts/profile.html", form=form, button=ButtonForm(), terms_form=DesignerTermsForm()
    ), status


@accounts.route("/designer", methods=["GET", "POST"])
@login_required
def become_designer():
    form = DesignerTermsForm()
    status = 200
    if form.validate_on_submit():
        services.accept_designer_terms(current_user)
        db.session.commit()
        flash("You are a designer now: your designs, your copyright.", "success")
        return redirect(url_for("accounts.profile"))
    if form.is_submitted():
        status = 422
    return render_template(
        "accounts/designer_terms.html",
        form=form,
        terms_version=current_app.config["DESIGNER_TERMS_VERSION"],
    ), status


# --- operator console -------------------------------------------------------------------------


@operator.get("/")
@operator_required
def console():
    counts = {
        "accounts": db.session.scalar(sa.select(sa.func.count()).select_from(User)),
        "verified": db.session.scalar(
            sa.select(sa.func.count()).where(User.email_verified_at.is_not(None))
        ),
        "designers": db.session.scalar(
            sa.select(sa.func.count()).where(User.designer_terms_version.is_not(None))
        ),
        "mail_failed": db.session.scalar(
            sa.select(sa.func.count()).where(OutboxMail.status == MailStatus.FAILED)
        ),
    }
    events = db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(25)
    ).all()
    items: dict[str, list[dict]] = {}
    for provider in current_app.extensions["operator_items"]:
        for item in provider():
            items.setdefault(item["queue"], []).append(item)
    return render_template(
        "operator/console.html",
        counts=counts,
        events=events,
        queues=_work_queues(),
        items=items,
        now=utcnow(),
    )


AUDIT_PAGE = 100


@operator.get("/audit")
@operator_required
def audit():
    """Every operator action and state change, filterable: who, what, when, why."""
    args = request.args
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    filters = {
        "who": args.get("who", "").strip(),
        "subject_type": args.get("subject_type", "").strip(),
        "subject_id": args.get("subject_id", "").strip(),
        "action": args.get("action", "").strip(),
        "operators_only": args.get("operators_only") == "1",
        "since": args.get("since", "").strip(),
        "until": args.get("until", "").strip(),
    }
    if filters["who"] == "system":
        query = query.where(AuditEvent.actor_id.is_(None))
    elif filters["who"]:
        query = query.join(User, User.id == AuditEvent.actor_id).where(
            User.email.contains(filters["who"].lower())
        )
    if filters["operators_only"]:
        operators = sa.select(User.id).where(User.is_operator)
        query = query.where(AuditEvent.actor_id.in_(operators))
    if filters["subject_type"]:
        query = query.where(AuditEvent.subject_type == filters["subject_type"])
    if filters["subject_id"].isdigit():
        query = query.where(AuditEvent.subject_id == int(filters["subject_id"]))
    if filters["action"]:
        query = query.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    for key, op in (("since", "__ge__"), ("until", "__lt__")):
        if filters[key]:
            try:
                day = dt.date.fromisoformat(filters[key])
            except ValueError:
                abort(400, description=f"“{filters[key]}” is not a date (YYYY-MM-DD).")
            if key == "until":
                day += dt.timedelta(days=1)
            bound = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            query = query.where(getattr(AuditEvent.created_at, op)(bound))
    page = max(args.get("page", 1, type=int), 1)
    rows = db.session.scalars(
        query.options(joinedload(AuditEvent.actor))
        .limit(AUDIT_PAGE + 1)
        .offset((page - 1) * AUDIT_PAGE)
    ).all()
    subject_types = db.session.scalars(
        sa.select(AuditEvent.subject_type).distinct().order_by(AuditEvent.subject_type)
    ).all()
    return render_template(
        "operator/audit.html",
        events=rows[:AUDIT_PAGE],
        has_next=len(rows) > AUDIT_PAGE,
        page=page,
        filters=filters,
        subject_types=subject_types,
    )


def _work_queues() -> list[tuple[str, int, str]]:
    """What waits for an operator: each package registers a function giving
    (label, count, link) rows, so the core never imports the packages built on it."""
    return [row for provider in current_app.extensions["operator_queues"] for row in provider()]


# --- development only -------------------------------------------------------------------------


@dev.get("/mail")
def mail_outbox():
    """Registered only when MAIL_DEV_VIEWER is on (development)."""
    mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id.desc()).limit(50)).all()
    return render_template("dev/mail.html", mails=mails)
