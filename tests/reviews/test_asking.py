"""The mail asking a backer to rate what they received, and its one reminder."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from marketplace.cli import cron_jobs
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.reviews import services
from marketplace.reviews.jobs import sweep_rating_requests
from marketplace.reviews.models import Rating
from tests.helpers import needs_postgresql


def mails(ctx, kind):
    with ctx():
        return sorted(
            (m.to_address, m.body_text)
            for m in db.session.scalars(sa.select(OutboxMail).where(OutboxMail.kind == kind))
        )


def sweep(ctx, now):
    with ctx():
        result = services.ask_for_ratings(now)
        db.session.commit()
        return result


def test_asked_once_after_14_days_and_reminded_once_7_days_later_unless_rated(ctx, delivered):
    now = utcnow()
    # Delivered 20 days ago: due. cy's order is still on its way.
    assert sweep(ctx, now - dt.timedelta(days=7)) == (0, 0)  # 13 days after delivery
    assert sweep(ctx, now) == (2, 0)
    assert sweep(ctx, now) == (0, 0)  # a second run sends nothing again
    asked = mails(ctx, "rating_request")
    assert [to for to, _ in asked] == ["ada@example.com", "ben@example.com"]
    ada_body = asked[0][1]
    assert f"http://localhost/reviews/orders/{delivered['orders']['ada']}" in ada_body

    with ctx():  # ada rates before the reminder
        db.session.add(
            Rating(
                order_id=delivered["orders"]["ada"],
                user_id=delivered["users"]["ada"],
                campaign_id=delivered["campaign"],
                design_id=delivered["design"],
                score=4,
            )
        )
        db.session.commit()
    assert sweep(ctx, now + dt.timedelta(days=6)) == (0, 0)
    assert sweep(ctx, now + dt.timedelta(days=7)) == (0, 1)
    assert sweep(ctx, now + dt.timedelta(days=30)) == (0, 0)
    reminded = mails(ctx, "rating_reminder")
    assert [to for to, _ in reminded] == ["ben@example.com"]
    assert f"/reviews/orders/{delivered['orders']['ben']}" in reminded[0][1]
    assert len(mails(ctx, "rating_request")) == 2


def test_a_rating_written_before_the_ask_means_no_mail_at_all(ctx, delivered):
    with ctx():
        for name in ("ada", "ben"):
            db.session.add(
                Rating(
                    order_id=delivered["orders"][name],
                    user_id=delivered["users"][name],
                    campaign_id=delivered["campaign"],
                    design_id=delivered["design"],
                    score=5,
                )
            )
        db.session.commit()
    assert sweep(ctx, utcnow() + dt.timedelta(days=40)) == (0, 0)
    assert mails(ctx, "rating_request") == [] and mails(ctx, "rating_reminder") == []


def test_the_sweep_is_a_cron_job(app, ctx, delivered):
    assert sweep_rating_requests in [job for job, _queue, _every in cron_jobs()]
    with app.app_context():
        assert sweep_rating_requests() == (2, 0)
    assert len(mails(ctx, "rating_request")) == 2


@pytest.mark.live_db
@needs_postgresql("two sweeps in flight at once need")
def test_two_sweeps_at_the_same_moment_send_each_mail_once(app, ctx, delivered, monkeypatch):
    """Both sweeps find the same orders due before either writes: the row each mail is
    claimed by lets only one of them send it."""
    barrier = threading.Barrier(2, timeout=20)
    claim = services._claim_ask
    waited = threading.local()

    def claim_together(order_id, now):
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()  # both have read the due orders
        return claim(order_id, now)

    monkeypatch.setattr(services, "_claim_ask", claim_together)
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(services.ask_for_ratings(utcnow()))
                db.session.commit()
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [(0, 0), (2, 0)]
    assert [to for to, _ in mails(ctx, "rating_request")] == ["ada@example.com", "ben@example.com"]


def test_the_ask_is_written_in_the_backer_language(ctx, delivered):
    from marketplace.accounts.models import User

    with ctx():
        db.session.get(User, delivered["users"]["ada"]).locale = "fr"
        db.session.commit()
    sweep(ctx, utcnow())
    with ctx():
        mail = db.session.scalar(
            sa.select(OutboxMail).where(OutboxMail.to_address == "ada@example.com")
        )
        assert mail.subject == "Que pensez-vous de votre Test tee\u202f?"
        assert "Voulez-vous le noter de 1 à 5 étoiles" in mail.body_text
