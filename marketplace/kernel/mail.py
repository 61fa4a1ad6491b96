"""The mail outbox: render now, in the caller's transaction; deliver later, from a worker.

Every kind of mail (a template ``templates/mail/<kind>.txt``) is registered here, in a group:
an *essential* one (money a person owes or is owed, their orders, their account's security),
always sent, or a *topic* a person can turn off from their account page or with the signed
one-click link each such mail carries (RFC 8058).
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from rq import Retry

from .dbtypes import utcnow
from .extensions import db
from .i18n import N_, in_terms_of
from .models import MAIL_MACHINE, MailOptOut, MailStatus, OutboxMail
from .queues import enqueue_after_commit
from .urls import external_url

#: After this many failed SMTP attempts a mail is marked failed and left for an operator.
MAX_ATTEMPTS = 5
#: Seconds between RQ's retries of a failed delivery.
RETRY_INTERVALS = [30, 120, 600, 1800]


# --- the kinds of mail ------------------------------------------------------------------------


@dataclass(frozen=True)
class MailGroup:
    """Kinds of mail that a person gets or turns off together. ``label`` and ``explanation``
    are marked with ``N_`` and translated where they are shown."""

    key: str
    label: str
    explanation: str
    kinds: tuple[str, ...]
    #: False for essential mail: always sent, no unsubscribe link.
    optional: bool


ESSENTIALS = (
    MailGroup(
        "payments",
        N_("Payments and refunds"),
        N_(
            "When a campaign you back is funded, fails or is cancelled, each charge to your"
            " card, a card to fix, and refunds: money you owe or are owed."
        ),
        (
            "campaign_funded",
            "campaign_failed",
            "campaign_cancelled",
            "charge_succeeded",
            "charge_failed",
            "charge_action_required",
            "charge_reminder",
            "pledge_dropped",
            "pledge_refunded",
        ),
        optional=False,
    ),
    MailGroup(
        "orders",
        N_("Your pledges and orders"),
        N_("The confirmation of a pledge, where to send your order, and its tracking number."),
        ("pledge_confirmed", "survey_reminder", "order_shipped"),
        optional=False,
    ),
    MailGroup(
        "security",
        N_("Your account's security"),
        N_("Confirming your address, resetting your password, and a password changed."),
        ("verify_email", "password_reset", "password_changed"),
        optional=False,
    ),
)

#: The topics a person can turn off, in the order the account page lists them. The keys are
#: stored (``MailOptOut.topic``) and signed into unsubscribe links: never rename one.
TOPICS = (
    MailGroup(
        "designs",
        N_("News about my designs"),
        N_(
            "When a design of yours passes the quality check or not, when its scoring closes,"
            " when it is shortlisted or selected, and when its campaign opens and is paid."
        ),
        ("design_update", "campaign_opened", "campaign_settled"),
        optional=True,
    ),
    MailGroup(
        "campaigns",
        N_("Campaign and production news"),
        N_(
            "Updates posted by the campaigns you back, and each step of their production run"
            " up to delivery."
        ),
        ("campaign_update", "run_update"),
        optional=True,
    ),
    MailGroup(
        "ratings",
        N_("Ratings and reviews"),
        N_(
            "Asking you to rate what you received, one reminder, and a designer's answer to"
            " your review."
        ),
        ("rating_request", "rating_reminder", "review_reply"),
        optional=True,
    ),
    MailGroup(
        "redesigns",
        N_("Redesign challenges"),
        N_(
            "A challenge to redesign a product, and invitations to score the redesigns of a"
            " product you backed or rated."
        ),
        ("redesign_challenge", "redesign_invitation"),
        optional=True,
    ),
    MailGroup(
        "thanks",
        N_("Thanks"),
        N_(
            "A thank-you when a design you scored is selected or a campaign you backed has"
            " collected its payments, with the numbers."
        ),
        ("thanks_scored", "thanks_backed"),
        optional=True,
    ),
)

#: Every registered kind, and its group. A kind may be named before its template exists.
KINDS: dict[str, MailGroup] = {kind: group for group in ESSENTIALS + TOPICS for kind in group.kinds}
_TOPICS_BY_KEY = {topic.key: topic for topic in TOPICS}


def topic_of(kind: str) -> MailGroup | None:
    """The topic that turns ``kind`` off, or None when it is always sent. A kind missing from
    the registry is treated as essential: a forgotten line here must not lose anyone's mail."""
    group = KINDS.get(kind)
    return group if group is not None and group.optional else None


def topic_named(key: str) -> MailGroup | None:
    return _TOPICS_BY_KEY.get(key)


# --- who turned what off ----------------------------------------------------------------------


def turned_off(user_id: int) -> set[str]:
    """The keys of the topics this account turned off."""
    return set(db.session.scalars(sa.select(MailOptOut.topic).where(MailOptOut.user_id == user_id)))


def is_turned_off(user_id: int, topic: str) -> bool:
    return db.session.get(MailOptOut, (user_id, topic)) is not None


def turn_off(user_id: int, topic: str) -> bool:
    """Stop a topic's mail; False when it was already off. A second click of the same link
    racing the first (mail clients do send twice) finds the row and changes nothing."""
    if topic_named(topic) is None:
        raise ValueError(f"unknown mail topic {topic!r}")
    if is_turned_off(user_id, topic):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(MailOptOut(user_id=user_id, topic=topic))
    except sa.exc.IntegrityError:
        return False
    return True


def turn_on(user_id: int, topic: str) -> bool:
    """Send a topic's mail again; False when it was not off."""
    result = db.session.execute(
        sa.delete(MailOptOut).where(MailOptOut.user_id == user_id, MailOptOut.topic == topic)
    )
    return result.rowcount > 0


# --- unsubscribe links ------------------------------------------------------------------------

_UNSUBSCRIBE_SALT = "mail-unsubscribe"


def _unsubscribe_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, topic: str) -> str:
    """Names one account and one topic. No expiry: a mail kept for a year must still be able
    to stop the next ones; changing SECRET_KEY voids every link."""
    return _unsubscribe_signer().dumps([user_id, topic])


def read_unsubscribe_token(token: str) -> tuple[int, MailGroup] | None:
    """The account id and topic a token names, or None when it is forged, altered or names
    no topic we have."""
    try:
        data = _unsubscribe_signer().loads(token)
    except BadSignature:
        return None
    if not (
        isinstance(data, list)
        and len(data) == 2
        and type(data[0]) is int
        and isinstance(data[1], str)
        and topic_named(data[1]) is not None
    ):
        return None
    return data[0], topic_named(data[1])


def unsubscribe_url(user_id: int, topic: str) -> str:
    return external_url("accounts.unsubscribe", token=unsubscribe_token(user_id, topic))


# --- the outbox -------------------------------------------------------------------------------


def queue_mail(to, kind: str, **context) -> OutboxMail | None:
    """Render ``templates/mail/<kind>.txt`` into the outbox and send it after commit.

    ``to`` is an account (anything with ``email`` and ``id``) or a bare address. The
    template's first line is ``Subject: ...``; the rest is the body. Returns None, and
    stores nothing, when the account turned off the kind's topic.
    """
    user = None if isinstance(to, str) else to
    address = user.email if user else to
    topic = topic_of(kind) if user else None
    if topic is not None and is_turned_off(user.id, topic.key):
        return None
    unsubscribe = unsubscribe_url(user.id, topic.key) if topic else None
    # In the recipient's language and time zone, whoever's request (or job) sends it.
    with in_terms_of(user):
        rendered = render_template(f"mail/{kind}.txt", user=user, **context)
        footer = (
            render_template(
                "mail/_unsubscribe.txt",
                topic=topic,
                unsubscribe_url=unsubscribe,
                manage_url=external_url("accounts.profile") + "#mail",
            ).strip()
            if topic
            else ""
        )
    first, _, body = rendered.lstrip().partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail/{kind}.txt must start with a 'Subject:' line")
    body = body.strip() + "\n"
    if footer:
        body += "\n-- \n" + footer + "\n"
    mail = OutboxMail(
        to_address=address,
        user_id=user.id if user else None,
        kind=kind,
        subject=first.removeprefix("Subject:").strip(),
        body_text=body,
        unsubscribe_url=unsubscribe,
    )
    db.session.add(mail)
    db.session.flush()
    enqueue_mail(mail.id)
    return mail


def enqueue_mail(mail_id: int) -> None:
    enqueue_after_commit(
        "mail",
        "marketplace.kernel.jobs.send_outbox_mail",
        mail_id,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        description=f"send outbox mail {mail_id}",
    )


def build_message(mail: OutboxMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    # A stable id lets a receiving server drop the copy a crashed worker may send twice.
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}")
    if mail.unsubscribe_url:
        # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the URL, no login.
        msg["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail.body_text)
    if mail.unsubscribe_url:
        # The body is encoded by now. A header longer than 78 characters with no space to
        # fold at would be sent as an RFC 2047 encoded word, which no mail client reads as
        # a URL: headers may run to RFC 5322's 998.
        msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def deliver(mail: OutboxMail) -> None:
    """Hand one mail to the configured backend; raises on failure."""
    cfg = current_app.config
    msg = build_message(mail)
    if cfg["MAIL_BACKEND"] == "console":
        current_app.logger.warning(
            "mail (console backend, not sent)\nTo: %s\nSubject: %s\n\n%s",
            mail.to_address,
            mail.subject,
            mail.body_text,
        )
        return
    if cfg["MAIL_BACKEND"] != "smtp":
        raise RuntimeError(f"MAIL_BACKEND={cfg['MAIL_BACKEND']!r} is not smtp or console")
    smtp_class = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT"]) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        smtp.send_message(msg)


def claim(mail_id: int) -> bool:
    """Mark a pending mail as being sent, atomically: of two jobs for the same mail, only
    one wins the update."""
    result = db.session.execute(
        sa.update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.status.in_(MAIL_MACHINE.sources("claim")))
        .values(
            status=MAIL_MACHINE.target("claim"),
            claimed_at=utcnow(),
            attempts=OutboxMail.attempts + 1,
        )
    )
    return result.rowcount == 1


def requeue_stuck(
    pending_after: dt.timedelta = dt.timedelta(minutes=2),
    sending_after: dt.timedelta = dt.timedelta(minutes=15),
) -> list[int]:
    """Find mail whose job was lost (Redis down at enqueue, worker killed mid-send) and
    enqueue it again after commit. Returns the ids."""
    now = utcnow()
    db.session.execute(
        sa.update(OutboxMail)
        .where(
            OutboxMail.status.in_(MAIL_MACHINE.sources("release")),
            OutboxMail.claimed_at < now - sending_after,
        )
        .values(status=MAIL_MACHINE.target("release"))
    )
    ids = list(
        db.session.scalars(
            sa.select(OutboxMail.id).where(
                OutboxMail.status == MailStatus.PENDING,
                OutboxMail.created_at < now - pending_after,
            )
        )
    )
    for mail_id in ids:
        enqueue_mail(mail_id)
    return ids


def failed_mail_count() -> int:
    """Mail given up on after every retry: an operator should look."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(OutboxMail.status == MailStatus.FAILED)
    )
