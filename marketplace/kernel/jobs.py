"""Background jobs of the core. Each takes ids, reloads, re-checks and commits itself."""

from __future__ import annotations

import smtplib
from typing import TypeVar

from .dbtypes import utcnow
from .extensions import db
from .mail import MAX_ATTEMPTS, claim, deliver, requeue_stuck
from .models import MAIL_MACHINE, OutboxMail

T = TypeVar("T")


def committed(result: T) -> T:
    """A job's unit of work ends here: services flush and never commit, so the job commits
    what its call did and hands back the call's result for RQ to keep."""
    db.session.commit()
    return result


def send_outbox_mail(mail_id: int) -> str:
    if not claim(mail_id):
        db.session.rollback()
        return "not pending: already sent, being sent, or failed"
    db.session.commit()
    mail = db.session.get(OutboxMail, mail_id)
    try:
        deliver(mail)
    except (smtplib.SMTPException, OSError) as exc:
        MAIL_MACHINE.apply(mail, "fail" if mail.attempts >= MAX_ATTEMPTS else "release")
        mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise  # RQ's Retry schedules the next attempt
    MAIL_MACHINE.apply(mail, "sent")
    mail.sent_at = utcnow()
    mail.last_error = None
    db.session.commit()
    return "sent"


def sweep_outbox() -> int:
    """Re-enqueue mail whose job was lost; runs when a worker starts."""
    return len(committed(requeue_stuck()))
