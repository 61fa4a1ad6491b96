"""Sign-up, log-in, verification, password resets, the profile and the designer terms."""

from __future__ import annotations

import hashlib
import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext, refresh
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.kernel import mail
from marketplace.kernel.extensions import csrf, db, limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.i18n import N_, current_language
from marketplace.kernel.web import committed, form_status, posted, refused

from . import queries, services
from .forms import (
    DesignerTermsForm,
    EmailForm,
    LoginForm,
    MailForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
)
from .models import LoginSession

accounts = Blueprint("accounts", __name__, url_prefix="/account")


def safe_next(target: str | None) -> str:
    """Only a plain path of this site: an open redirect after login is a phishing tool.
    Browsers drop tabs and newlines from a URL, so "/<tab>/evil.example" would take the
    person to //evil.example: a path with any white space or control character is refused."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not any(char.isspace() for char in target)
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.home")


def onward(fallback: str) -> str:
    """The request's ``next=`` if it is a safe path of this site, else ``fallback``."""
    target = request.args.get("next")
    return target if target and safe_next(target) == target else fallback


def after_login(user) -> str:
    """Where a login lands: a safe ``next=``, else the console for an operator (their work
    is there), else the home page."""
    return onward(url_for("operator.console") if user.is_operator else url_for("main.home"))


def _login_failed(response) -> bool:
    return response.status_code == 401


# --- failed logins ----------------------------------------------------------------------------
# Three limits count failed logins (a 401), each keyed differently. The lockout is per account
# and client address: five guesses from one address lock that address out of that account,
# and the owner elsewhere logs in as usual. Per account across every address, a short window
# (10 a minute) holds guessing spread over many addresses to a trickle; it slows the owner
# down for at most that minute, where a long per-account count would let anyone lock any
# account out (operators' included) for a quarter of an hour. Per address across accounts,
# a third limit stops one address from trying many accounts. The two account keys carry the
# account's session version, so a password reset (which bumps it) starts them afresh.


def _login_email() -> str:
    return services.normalise_email(request.form.get("email", ""))


def _login_account() -> str:
    """The account part of the keys: its session version and a hash of the address (so that
    the counters' store holds no email addresses, and any length of input fits)."""
    if "login_account_key" not in g:
        email = _login_email()
        plausible = len(email) <= 254 and "\x00" not in email
        generation = queries.login_limit_generation(email) if plausible else 0
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        g.login_account_key = f"{generation}:{digest}"
    return g.login_account_key


def _per_account_key() -> str:
    return "login-account:" + _login_account()


def _per_account_and_address_key() -> str:
    return f"login-account-address:{_login_account()}:{get_remote_address()}"


def _wait(limit: RequestLimit) -> str:
    seconds = max(1, math.ceil(limit.window.reset_time - time.time()))
    if seconds < 90:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", math.ceil(seconds / 60))


def _refuse_login(message: str, offer_reset: bool):
    """The 429 page of a login limit: what happened, how long to wait, and (when the limit
    is the account's) the password reset that lifts it at once. ``message`` is marked with
    ``N_`` (the limits are declared at import) and translated when a limit is hit."""

    def on_breach(limit: RequestLimit):
        page = render_template(
            "accounts/login_blocked.html",
            message=_(message, wait=_wait(limit)),
            offer_reset=offer_reset,
        )
        return make_response(page, 429)

    return on_breach


@accounts.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT"], methods=["POST"])
def register():
    # A safe ``next=`` carries the sign-up on ("Join as a designer": to the designer terms).
    then = onward(url_for("accounts.profile"))
    if current_user.is_authenticated:
        return redirect(then)
    form = RegisterForm()
    status = form_status(form)
    if form.validate_on_submit():
        try:
            user = services.register(
                form.email.data,
                form.display_name.data,
                form.password.data,
                locale=current_language(),
                time_zone=form.time_zone.data or "",
            )
        except services.AccountError as exc:
            field = form.email if isinstance(exc, services.EmailTaken) else form.password
            status = refused(field, exc)
        else:
            services.start_session(user, remember=False, user_agent=request.user_agent.string)
            db.session.commit()
            login_user(user)
            flash(
                _(
                    "Welcome, %(name)s! We sent a link to %(email)s to confirm it.",
                    name=user.display_name,
                    email=user.email,
                ),
                "success",
            )
            return redirect(then)
    return render_template("accounts/register.html", form=form), status


@accounts.route("/login", methods=["GET", "POST"])
# Flask-Limiter checks these from the bottom up (among limits of one time unit) and answers
# with the first one exceeded: the lockout, usually the longest wait, is the one to tell.
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_per_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    on_breach=_refuse_login(
        N_(
            "This account has had too many failed logins in a short time, from several places."
            " Wait %(wait)s and try again, or reset your password to log in now."
        ),
        offer_reset=True,
    ),
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"],
    methods=["POST"],
    deduct_when=_login_failed,
    on_breach=_refuse_login(
        N_("Too many failed logins from your network address. Wait %(wait)s and try again."),
        offer_reset=False,
    ),
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_IP"],
    key_func=_per_account_and_address_key,
    methods=["POST"],
    deduct_when=_login_failed,
    on_breach=_refuse_login(
        N_(
            "Too many failed logins for this account from your network address. Wait %(wait)s"
            " and try again, or reset your password to log in now."
        ),
        offer_reset=True,
    ),
)
def login():
    if current_user.is_authenticated:
        return redirect(after_login(current_user))
    form = LoginForm()
    status = form_status(form)
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            # One message for an unknown address and a wrong password: no account probing.
            form.password.errors.append(_("That email and password do not match an account."))
            status = 401
        else:
            remember = form.remember.data
            services.start_session(user, remember=remember, user_agent=request.user_agent.string)
            db.session.commit()
            login_user(user, remember=remember)
            refresh()  # the welcome below, in the account's language
            flash(_("Welcome back, %(name)s.", name=user.display_name), "success")
            return redirect(after_login(user))
    return render_template("accounts/login.html", form=form), status


@accounts.post("/logout")
@login_required
def logout():
    posted(ButtonForm)
    services.end_session(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.home"))


@accounts.post("/logout-everywhere")
@login_required
def logout_everywhere():
    posted(ButtonForm)
    ended = services.log_out_everywhere(current_user)
    db.session.commit()
    logout_user()
    flash(
        ngettext(
            "You are logged out everywhere: %(num)d session ended, this one included, and no"
            " device stays logged in. Log in again where you need to.",
            "You are logged out everywhere: %(num)d sessions ended, this one included, and no"
            " device stays logged in. Log in again where you need to.",
            ended,
        ),
        "success",
    )
    return redirect(url_for("accounts.login"))


@accounts.get("/verify/<token>")
def verify_email(token: str):
    try:
        user = services.verify_email(token)
    except services.InvalidToken as exc:
        return render_template("accounts/token_invalid.html", message=str(exc)), 400
    db.session.commit()
    flash(
        _(
            "Your email address is confirmed. You can now score designs, back campaigns and"
            " submit your own designs."
        ),
        "success",
    )
    if current_user.is_authenticated and current_user.id == user.id:
        # A designer confirms the address to upload: the new design form is what is next.
        if user.is_designer:
            return redirect(url_for("designs.new"))
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


@accounts.post("/verify/resend")
@login_required
@limiter.limit(lambda: current_app.config["MAIL_LINK_LIMIT"], methods=["POST"])
def resend_verification():
    posted(ButtonForm)
    if current_user.is_verified:
        flash(_("Your email address is already confirmed."), "info")
    else:
        services.send_verification(current_user)
        db.session.commit()
        flash(_("We sent a new link to %(email)s.", email=current_user.email), "success")
    return redirect(url_for("accounts.profile"))


@accounts.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_LINK_LIMIT"], methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(
            _(
                "If an account uses that address, a reset link is on its way. It works for one"
                " hour."
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), form_status(form)


@accounts.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        services.user_for_reset_token(token)
    except services.InvalidToken as exc:
        return render_template("accounts/token_invalid.html", message=str(exc)), 400
    form = ResetPasswordForm()
    status = form_status(form)
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except services.AccountError as exc:
            status = refused(form.password, exc)
        else:
            services.start_session(user, remember=False, user_agent=request.user_agent.string)
            db.session.commit()
            login_user(user)
            flash(_("Your password is changed, and every other session is logged out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/reset.html", form=form), status


@accounts.route("/", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        services.update_profile(
            current_user, form.display_name.data, form.locale.data, form.time_zone.data
        )
        refresh()  # the message below, in the language just chosen
        return committed(url_for("accounts.profile"), _("Profile saved."))
    return render_template(
        "accounts/profile.html",
        form=form,
        button=ButtonForm(),
        terms_form=DesignerTermsForm(),
        mail_form=_mail_form(current_user),
        essentials=mail.ESSENTIALS,
        sessions=queries.live_sessions(current_user),
        this_session=LoginSession.hash_secret(current_user.session_token),
    ), form_status(form)


def _mail_form(user) -> MailForm:
    # Not from the request: a profile form posted to this page has no mail fields, and
    # reading them from it would show every topic unticked.
    on = queries.mail_topics_on(user)
    return MailForm(
        formdata=None,
        data={MailForm.field_name(topic): topic.key in on for topic in mail.TOPICS},
    )


@accounts.post("/mail")
@login_required
def mail_choices():
    form = posted(MailForm)
    wanted = {topic.key for topic in mail.TOPICS if form[MailForm.field_name(topic)].data}
    services.save_mail_choices(current_user, wanted)
    return committed(url_for("accounts.profile"), _("Your mail choices are saved."), at="mail")


# --- unsubscribe links ------------------------------------------------------------------------
# Each optional mail links here with a signed token naming the account and the topic. The
# page works without logging in (the mail may be read anywhere); it asks before it changes
# anything, since link checkers and previews open links, and a mail client's one-click POST
# (RFC 8058) is the only request that changes it without the page's CSRF token.


def _is_one_click() -> bool:
    """Exactly the body RFC 8058 has a mail client send: one field, one value."""
    return request.form.to_dict(flat=False) == {"List-Unsubscribe": ["One-Click"]}


def _unsubscribe_page(token: str, user, topic) -> str:
    return render_template(
        "accounts/unsubscribe.html",
        token=token,
        topic=topic,
        is_on=not mail.is_turned_off(user.id, topic.key),
        button=ButtonForm(),
    )


def _link(token: str):
    """The account and topic of a link, or its error page (400 forged, 404 account gone)."""
    try:
        return services.unsubscribe_link(token)
    except services.InvalidToken as exc:
        page = render_template("accounts/unsubscribe_invalid.html", message=exc.message)
        abort(make_response(page, exc.status))


@accounts.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # only for the one-click POST: any other POST checks its token below
def unsubscribe(token: str):
    user, topic = _link(token)
    if request.method == "GET":
        return _unsubscribe_page(token, user, topic)
    if _is_one_click():
        services.set_mail_topic(user, topic, False, via="one-click")
        db.session.commit()
        return _unsubscribe_page(token, user, topic)
    posted(ButtonForm)
    services.set_mail_topic(user, topic, False, via="link")
    return committed(
        url_for("accounts.unsubscribe", token=token),
        _("You will no longer get “%(topic)s”.", topic=_(topic.label)),
    )


@accounts.post("/unsubscribe/<token>/undo")
def resubscribe(token: str):
    user, topic = _link(token)
    posted(ButtonForm)
    services.set_mail_topic(user, topic, True, via="link")
    return committed(
        url_for("accounts.unsubscribe", token=token),
        _("You will get “%(topic)s” again.", topic=_(topic.label)),
    )


@accounts.route("/designer", methods=["GET", "POST"])
@login_required
def become_designer():
    form = DesignerTermsForm()
    if form.validate_on_submit():
        services.accept_designer_terms(current_user)
        if not current_user.is_verified:
            # Uploading needs a confirmed address: the mailed link leads on to the form.
            return committed(
                url_for("accounts.profile"),
                _(
                    "You are a designer now: your designs, your copyright. Confirm your email"
                    " address with the link we sent to %(email)s, and the form for your first"
                    " design opens.",
                    email=current_user.email,
                ),
            )
        return committed(
            onward(url_for("accounts.profile")),
            _("You are a designer now: your designs, your copyright."),
        )
    return render_template(
        "accounts/designer_terms.html",
        form=form,
        terms_version=current_app.config["DESIGNER_TERMS_VERSION"],
    ), form_status(form)
