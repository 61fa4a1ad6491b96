"""Which mail a person can turn off: every kind registered, a topic turned off stops exactly
its own kinds, and each optional mail carries a signed one-click unsubscribe link."""

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeSerializer

from marketplace.accounts.models import User
from marketplace.kernel import mail
from marketplace.kernel.extensions import db
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.models import MailOptOut, OutboxMail
from tests.helpers import ROOT

#: Context enough for these templates, which only read attributes.
CAMPAIGN_UPDATE = {
    "campaign": SimpleNamespace(product_name="Desk lamp"),
    "update": SimpleNamespace(title="Samples are in", body="They look good."),
    "link": "http://localhost/campaigns/1",
}
DESIGN_SELECTED = {
    "design": SimpleNamespace(title="Night owl"),
    "event": "selected",
    "decision": None,
    "link": "http://localhost/designs/1",
}


def templates() -> list[str]:
    return sorted(
        path.stem
        for path in (ROOT / "templates" / "mail").glob("*.txt")
        if not path.name.startswith("_")
    )


def test_every_mail_template_is_registered_as_essential_or_in_a_topic():
    assert templates(), "no mail templates found"
    assert [kind for kind in templates() if kind not in mail.KINDS] == []


def test_no_kind_is_in_two_groups_and_topic_keys_are_unique():
    named = [kind for group in mail.ESSENTIALS + mail.TOPICS for kind in group.kinds]
    assert len(named) == len(set(named))
    keys = [group.key for group in mail.ESSENTIALS + mail.TOPICS]
    assert len(keys) == len(set(keys))
    assert all(group.optional for group in mail.TOPICS)
    assert not any(group.optional for group in mail.ESSENTIALS)


@pytest.mark.parametrize(
    ("kind", "topic"),
    [
        ("rating_request", "ratings"),
        ("rating_reminder", "ratings"),
        ("review_reply", "ratings"),
        ("redesign_challenge", "redesigns"),
        ("redesign_invitation", "redesigns"),
        ("thanks_scored", "thanks"),
        ("thanks_backed", "thanks"),
        ("campaign_update", "campaigns"),
        ("run_update", "campaigns"),
        ("design_update", "designs"),
        ("campaign_opened", "designs"),
        ("campaign_settled", "designs"),
    ],
)
def test_news_and_invitations_can_be_turned_off(kind, topic):
    assert mail.topic_of(kind).key == topic


@pytest.mark.parametrize(
    "kind",
    [
        "charge_succeeded",
        "charge_failed",
        "charge_action_required",
        "charge_reminder",
        "pledge_refunded",
        "pledge_dropped",
        "campaign_funded",
        "campaign_failed",
        "campaign_cancelled",
        "pledge_confirmed",
        "survey_reminder",
        "order_shipped",
        "verify_email",
        "password_reset",
        "password_changed",
    ],
)
def test_money_orders_and_security_are_always_sent(kind):
    assert kind in mail.KINDS
    assert mail.topic_of(kind) is None


def test_topics_have_a_label_and_an_explanation():
    for group in mail.ESSENTIALS + mail.TOPICS:
        assert group.label.strip() and len(group.explanation) > 20


def test_a_kind_missing_from_the_registry_is_sent_as_essential(ctx, make_user, monkeypatch):
    user_id = make_user("forgot@example.com")
    monkeypatch.delitem(mail.KINDS, "campaign_update")
    assert mail.topic_of("campaign_update") is None
    assert mail.topic_of("a_kind_nobody_registered") is None
    with ctx():
        mail.turn_off(user_id, "campaigns")
        queued = queue_mail(db.session.get(User, user_id), "campaign_update", **CAMPAIGN_UPDATE)
        assert queued is not None and queued.unsubscribe_url is None


def test_a_topic_turned_off_stops_exactly_its_mail(ctx, make_user, run_jobs, mailbox):
    user_id = make_user("quiet@example.com", name="Quiet")
    with ctx():
        user = db.session.get(User, user_id)
        assert mail.turn_off(user_id, "campaigns")
        assert queue_mail(user, "campaign_update", **CAMPAIGN_UPDATE) is None
        # Nothing is stored for it: no row to send, none to list as the person's mail.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0
        queue_mail(user, "design_update", **DESIGN_SELECTED)
        queue_mail(user, "password_changed")
        db.session.commit()
    assert run_jobs()["mail"] == 2
    other_topic = mailbox.wait_for("quiet@example.com", "is selected")
    essential = mailbox.wait_for("quiet@example.com", "password was changed")
    assert len(mailbox.to("quiet@example.com")) == 2
    assert "Samples are in" not in [m["Subject"] for m in mailbox.to("quiet@example.com")]

    # The optional mail says how to stop it; the essential one cannot be stopped.
    assert other_topic["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = other_topic["List-Unsubscribe"]
    assert url.startswith("<http://localhost/account/unsubscribe/") and url.endswith(">")
    body = mailbox.body(other_topic)
    assert url[1:-1] in body
    assert "http://localhost/account/#mail" in body
    assert "News about my designs" in body
    assert essential["List-Unsubscribe"] is None
    assert essential["List-Unsubscribe-Post"] is None
    assert "/account/unsubscribe/" not in mailbox.body(essential)


def test_turning_a_topic_back_on_sends_its_mail_again(ctx, make_user):
    user_id = make_user()
    with ctx():
        user = db.session.get(User, user_id)
        assert mail.turn_off(user_id, "campaigns")
        assert not mail.turn_off(user_id, "campaigns")  # already off: one row
        assert mail.turned_off(user_id) == {"campaigns"}
        assert mail.turn_on(user_id, "campaigns")
        assert not mail.turn_on(user_id, "campaigns")
        assert queue_mail(user, "campaign_update", **CAMPAIGN_UPDATE) is not None


def test_one_account_turning_a_topic_off_leaves_others_their_mail(ctx, make_user):
    quiet, other = make_user(), make_user()
    with ctx():
        mail.turn_off(quiet, "campaigns")
        sent = queue_mail(db.session.get(User, other), "campaign_update", **CAMPAIGN_UPDATE)
        assert sent is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MailOptOut)) == 1


def test_mail_to_a_bare_address_has_no_unsubscribe_link(ctx):
    with ctx():
        sent = queue_mail("someone@example.com", "campaign_update", **CAMPAIGN_UPDATE)
        assert sent.unsubscribe_url is None
        assert "unsubscribe" not in sent.body_text
        assert mail.build_message(sent)["List-Unsubscribe"] is None


def test_the_link_names_the_account_and_the_topic_and_nothing_else_reads_it(app, ctx):
    with ctx():
        token = mail.unsubscribe_token(7, "thanks")
        assert mail.read_unsubscribe_token(token) == (7, mail.topic_named("thanks"))
        assert mail.unsubscribe_token(8, "thanks") != token
        assert mail.unsubscribe_token(7, "ratings") != token
        url = mail.unsubscribe_url(7, "thanks")
        assert urlsplit(url).path == f"/account/unsubscribe/{token}"

        payload, _, signature = token.rpartition(".")
        other_payload = mail.unsubscribe_token(8, "thanks").rpartition(".")[0]
        other_secret = URLSafeSerializer("another secret", salt="mail-unsubscribe")
        other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="verify-email")
        forged = [
            other_payload + "." + signature,  # another account, this signature
            payload + "." + signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"),
            other_secret.dumps([7, "thanks"]),
            other_salt.dumps([7, "thanks"]),
            mail._unsubscribe_signer().dumps([7, "no_such_topic"]),
            mail._unsubscribe_signer().dumps({"uid": 7, "topic": "thanks"}),
            mail._unsubscribe_signer().dumps(["7", "thanks"]),
            "",
            "x" * 5000,
        ]
        assert [mail.read_unsubscribe_token(bad) for bad in forged] == [None] * len(forged)
