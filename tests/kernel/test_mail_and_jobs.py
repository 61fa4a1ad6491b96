"""The outbox and the jobs plumbing: no mail for a rolled-back change, none lost for a
committed one, one delivery even if the job runs twice."""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from marketplace.kernel.extensions import db
from marketplace.kernel.jobs import send_outbox_mail, sweep_outbox
from marketplace.kernel.mail import MAX_ATTEMPTS, queue_mail
from marketplace.kernel.models import MailStatus, OutboxMail
from marketplace.kernel.queues import enqueue_after_commit, get_queue


def queued_job_ids(app, name="mail"):
    with app.app_context():
        return get_queue(name).job_ids


def test_mail_of_a_rolled_back_change_is_neither_stored_nor_enqueued(app, ctx):
    with ctx():
        queue_mail("someone@example.com", "password_changed")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0
    assert queued_job_ids(app) == []


def test_mail_is_enqueued_only_after_commit_and_delivered_by_smtp(app, ctx, run_jobs, mailbox):
    with ctx():
        mail = queue_mail("someone@example.com", "password_changed")
        db.session.flush()
        assert queued_job_ids(app) == []  # not before the commit
        db.session.commit()
        mail_id = mail.id
    assert len(queued_job_ids(app)) == 1
    run_jobs()
    msg = mailbox.wait_for("someone@example.com", "password was changed")
    assert f"outbox-{mail_id}" in msg["Message-ID"]
    with ctx():
        mail = db.session.get(OutboxMail, mail_id)
        assert mail.status == MailStatus.SENT and mail.attempts == 1 and mail.sent_at


def test_a_mail_job_run_twice_delivers_once(app, ctx, mailbox):
    with ctx():
        mail_id = queue_mail("twice@example.com", "password_changed").id
        db.session.commit()
    with ctx():
        assert send_outbox_mail(mail_id) == "sent"
    with ctx():
        assert send_outbox_mail(mail_id).startswith("not pending")
    mailbox.wait_for("twice@example.com")
    assert len(mailbox.to("twice@example.com")) == 1


def test_smtp_failure_keeps_the_mail_pending_for_a_retry_then_gives_up(app, ctx, monkeypatch):
    with ctx():
        mail_id = queue_mail("later@example.com", "password_changed").id
        db.session.commit()
    # Nothing listens on port 1: a real refused connection.
    monkeypatch.setitem(app.config, "MAIL_PORT", 1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with ctx(), pytest.raises(OSError):
            send_outbox_mail(mail_id)
        with ctx():
            mail = db.session.get(OutboxMail, mail_id)
            assert mail.attempts == attempt
            assert "ConnectionRefusedError" in mail.last_error
            expected = MailStatus.FAILED if attempt == MAX_ATTEMPTS else MailStatus.PENDING
            assert mail.status == expected


def outbox_mail(to_address, **columns):
    return OutboxMail(to_address=to_address, kind="x", subject="s", body_text="b", **columns)


def test_sweep_re_enqueues_mail_whose_job_was_lost(app, ctx):
    import datetime as dt

    from marketplace.kernel.dbtypes import utcnow

    with ctx():
        old = utcnow() - dt.timedelta(minutes=30)
        lost = outbox_mail("a@example.com", created_at=old)
        stuck = outbox_mail(
            "b@example.com", created_at=old, status=MailStatus.SENDING, claimed_at=old
        )
        fresh = outbox_mail("c@example.com")
        sent = outbox_mail("d@example.com", created_at=old, status=MailStatus.SENT)
        db.session.add_all([lost, stuck, fresh, sent])
        db.session.commit()
    with ctx():
        assert sweep_outbox() == 2
    assert len(queued_job_ids(app)) == 2


def test_enqueue_after_commit_refuses_unknown_queues(app, ctx):
    with ctx(), pytest.raises(ValueError, match="unknown queue"):
        enqueue_after_commit("fast-lane", "marketplace.kernel.jobs.sweep_outbox")


def test_job_enqueued_in_a_rolled_back_transaction_is_forgotten(app, ctx):
    with ctx():
        enqueue_after_commit("default", "marketplace.kernel.jobs.sweep_outbox")
        db.session.rollback()
        db.session.commit()
    assert queued_job_ids(app, "default") == []


@pytest.mark.live_db
@pytest.mark.parametrize("mode", [[], ["--no-fork"]], ids=["forking", "no-fork"])
def test_flask_worker_command_runs_jobs_in_a_worker_process(
    app, ctx, mailbox, database_url, redis_url, mode
):
    """The real command, in its own process, with RQ's scheduler: forking a work-horse per
    job (warmed up first), or running jobs in the worker process."""
    with ctx():
        mail_id = queue_mail("worker@example.com", "password_changed").id
        db.session.commit()
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "test",
        "TEST_DATABASE_URL": database_url,
        "TEST_REDIS_URL": redis_url,
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tests.worker_app", "worker", "--burst", *mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    mailbox.wait_for("worker@example.com", "password was changed")
    with ctx():
        assert db.session.get(OutboxMail, mail_id).status == MailStatus.SENT


def test_cron_enqueues_every_periodic_sweep(app, ctx):
    from marketplace.cli import make_cron

    scheduler = make_cron(app)
    names = {job.func.__name__: job.queue_name for job in scheduler.get_jobs()}
    assert names == {
        "close_due_windows": "default",
        "sweep_due_campaigns": "settlement",
        "sweep_settlements": "settlement",
        "sweep_orphan_intents": "settlement",
        "sweep_surveys": "default",
        "close_due_challenges": "default",
        "sweep_rating_requests": "default",
        "sweep_thanks": "default",
        "sweep_outbox": "mail",
        "roll_up_kpis": "default",
    }
    enqueued = scheduler.enqueue_jobs()  # first pass: every interval job is due
    assert len(enqueued) == 10
    with ctx():
        assert [j.func_name for j in get_queue("default").jobs] == [
            "designs.jobs.close_due_windows",
            "marketplace.production.jobs.sweep_surveys",
            "marketplace.redesigns.jobs.close_due_challenges",
            "marketplace.reviews.jobs.sweep_rating_requests",
            "marketplace.recognition.jobs.sweep_thanks",
            "marketplace.kpis.jobs.roll_up_kpis",
        ]
        assert [j.func_name for j in get_queue("mail").jobs] == [
            "marketplace.kernel.jobs.sweep_outbox"
        ]
    assert scheduler.enqueue_jobs() == []  # and not again before their interval
