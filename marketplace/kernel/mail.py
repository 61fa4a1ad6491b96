"""The mail outbox: render now, in the caller's transaction; deliver later, from a worker."""

from __future__ import annotations

import datetime as dt
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app, render_template
from rq import Retry

from .dbtypes import utcnow
from .extensions import db
from .i18n import in_terms_of
from .models import MAIL_MACHINE, MailStatus, OutboxMail
from .queues import enqueue_after_commit

#: After this many failed SMTP attempts a mail is marked failed and left for an operator.
MAX_ATTEMPTS = 5
#: Seconds between RQ's retries of a failed delivery.
RETRY_INTERVALS = [30, 120, 600, 1800]


def queue_mail(to, kind: str, **context) -> OutboxMail:
    """Render ``templates/mail/<kind>.txt`` into the outbox and send it after commit.

    ``to`` is an account (anything with ``email`` and ``id``) or a bare address. The
    template's first line is ``Subject: ...``; the rest is the body.
    """
    user = None if isinstance(to, str) else to
    address = user.email if user else to
    # In the recipient's language and time zone, whoever's request (or job) sends it.
    with in_terms_of(user):
        rendered = render_template(f"mail/{kind}.txt", user=user, **context)
    first, _, body = rendered.lstrip().partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail/{kind}.txt must start with a 'Subject:' line")
    mail = OutboxMail(
        to_address=address,
        user_id=user.id if user else None,
        kind=kind,
        subject=first.removeprefix("Subject:").strip(),
        body_text=body.strip() + "\n",
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
    msg.set_content(mail.body_text)
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
