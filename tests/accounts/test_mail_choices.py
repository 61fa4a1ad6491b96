"""Unsubscribe links work without logging in and stop exactly their topic; the account page
turns each topic on and off and lists what is always sent."""

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel import mail
from marketplace.kernel.extensions import db
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.models import AuditEvent, MailOptOut
from tests.helpers import csrf_in, csrf_token

CAMPAIGN_UPDATE = {
    "campaign": SimpleNamespace(product_name="Desk lamp"),
    "update": SimpleNamespace(title="Samples are in", body="They look good."),
    "link": "http://localhost/campaigns/1",
}


def link_path(ctx, user_id: int, topic: str) -> str:
    with ctx():
        return urlsplit(mail.unsubscribe_url(user_id, topic)).path


def opted_out(ctx, user_id: int) -> set[str]:
    with ctx():
        return mail.turned_off(user_id)


def test_one_click_post_from_a_mail_client_needs_no_login_nor_csrf(ctx, client, make_user):
    user_id = make_user("reader@example.com")
    path = link_path(ctx, user_id, "campaigns")
    resp = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    assert "You will no longer get “Campaign and production news”" in resp.get_data(as_text=True)
    assert opted_out(ctx, user_id) == {"campaigns"}
    # Mail clients may send it twice: still 200, still one row.
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MailOptOut)) == 1
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action.like("account.%")))
        assert (event.action, event.data) == (
            "account.mail_off",
            {"topic": "campaigns", "via": "one-click"},
        )
        user = db.session.get(User, user_id)
        assert queue_mail(user, "campaign_update", **CAMPAIGN_UPDATE) is None
        assert queue_mail(user, "password_changed") is not None


def test_one_click_also_comes_as_multipart_form_data(ctx, client, make_user):
    user_id = make_user()
    path = link_path(ctx, user_id, "redesigns")
    resp = client.post(
        path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert resp.status_code == 200
    assert opted_out(ctx, user_id) == {"redesigns"}


def test_any_other_post_without_the_pages_csrf_token_changes_nothing(ctx, client, make_user):
    user_id = make_user()
    path = link_path(ctx, user_id, "campaigns")
    for data in (
        {},
        {"List-Unsubscribe": "one-click"},
        {"List-Unsubscribe": "One-Click", "extra": "1"},
        {"csrf_token": "not-a-token"},
    ):
        assert client.post(path, data=data).status_code == 400
    assert opted_out(ctx, user_id) == set()


def test_the_link_asks_before_it_unsubscribes_then_offers_the_way_back(ctx, client, make_user):
    user_id = make_user()
    path = link_path(ctx, user_id, "thanks")
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Stop “Thanks”?" in html
    assert "Unsubscribe</button>" in html
    # Opening the link (a link checker, a preview) changes nothing.
    assert opted_out(ctx, user_id) == set()

    resp = client.post(path, data={"csrf_token": csrf_in(html)})
    assert resp.status_code == 302 and urlsplit(resp.location).path == path
    assert opted_out(ctx, user_id) == {"thanks"}
    html = client.get(path).get_data(as_text=True)
    assert "You will no longer get “Thanks”." in html  # the confirmation
    assert "Get these mails again</button>" in html
    assert 'href="/account/#mail"' in html

    resp = client.post(path + "/undo", data={"csrf_token": csrf_in(html)})
    assert resp.status_code == 302
    assert opted_out(ctx, user_id) == set()
    assert "You will get “Thanks” again." in client.get(path).get_data(as_text=True)


def test_the_undo_needs_the_pages_csrf_token(ctx, client, make_user):
    user_id = make_user()
    with ctx():
        mail.turn_off(user_id, "thanks")
        db.session.commit()
    assert client.post(link_path(ctx, user_id, "thanks") + "/undo").status_code == 400
    assert opted_out(ctx, user_id) == {"thanks"}


def test_a_link_stops_its_own_topic_and_no_other(ctx, client, make_user):
    user_id, other_id = make_user(), make_user()
    client.post(link_path(ctx, user_id, "ratings"), data={"List-Unsubscribe": "One-Click"})
    assert opted_out(ctx, user_id) == {"ratings"}
    assert opted_out(ctx, other_id) == set()


def forged_paths(ctx, user_id: int, other_id: int) -> list[str]:
    genuine = link_path(ctx, user_id, "thanks")
    payload, _, signature = genuine.rpartition(".")
    other_payload = link_path(ctx, other_id, "thanks").rpartition(".")[0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        other_payload + "." + signature,  # the other account's name, this link's signature
        payload + "." + flipped,
        payload,
        "/account/unsubscribe/some-token",
    ]


@pytest.mark.parametrize("method", ["get", "one-click", "form"])
def test_forged_or_altered_links_get_a_clear_error_and_change_nothing(
    ctx, client, make_user, method
):
    user_id, other_id = make_user(), make_user()
    token = csrf_token(client, link_path(ctx, user_id, "designs"))
    for path in forged_paths(ctx, user_id, other_id):
        if method == "get":
            resp = client.get(path)
        else:
            data = {"List-Unsubscribe": "One-Click"} if method == "one-click" else {}
            resp = client.post(path, data={**data, "csrf_token": token})
        assert resp.status_code == 400, path
        assert "This unsubscribe link does not work" in resp.get_data(as_text=True)
        assert "not valid" in resp.get_data(as_text=True)
    assert opted_out(ctx, user_id) == opted_out(ctx, other_id) == set()


def test_a_link_for_an_account_that_is_gone_is_a_404(ctx, client):
    with ctx():
        path = urlsplit(mail.unsubscribe_url(999_999, "thanks")).path
    resp = client.get(path)
    assert resp.status_code == 404
    assert "no longer exists" in resp.get_data(as_text=True)
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404


# --- the account page -------------------------------------------------------------------------


def checked_topics(html: str) -> set[str]:
    found = set()
    for topic in mail.TOPICS:
        marker = f'id="topic_{topic.key}"'
        assert marker in html, topic.key
        tag = html[html.index(marker) - 200 : html.index(marker) + 200]
        tag = tag[tag.rindex("<input", 0, 200) :]
        tag = tag[: tag.index(">")]
        if "checked" in tag:
            found.add(topic.key)
    return found


def test_the_account_page_turns_topics_off_and_on(ctx, client, auth, make_user):
    user_id = make_user("chooser@example.com")
    auth.login("chooser@example.com")
    html = client.get("/account/").get_data(as_text=True)
    assert checked_topics(html) == {topic.key for topic in mail.TOPICS}
    assert "Always sent" in html
    for group in mail.ESSENTIALS:
        assert group.label in html and group.explanation in html

    keep = {"topic_designs": "y", "topic_thanks": "y"}
    resp = client.post("/account/mail", data={"csrf_token": csrf_in(html), **keep})
    assert resp.status_code == 302 and resp.location.endswith("/account/#mail")
    assert opted_out(ctx, user_id) == {"campaigns", "ratings", "redesigns"}
    html = client.get("/account/").get_data(as_text=True)
    assert "Your mail choices are saved." in html
    assert checked_topics(html) == {"designs", "thanks"}

    everything = {f"topic_{topic.key}": "y" for topic in mail.TOPICS}
    client.post("/account/mail", data={"csrf_token": csrf_in(html), **everything})
    assert opted_out(ctx, user_id) == set()
    with ctx():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("account.mail_%"))
        ).all()
    assert sorted(actions) == ["account.mail_off"] * 3 + ["account.mail_on"] * 3


def test_the_profile_form_shown_again_keeps_the_mail_ticks(ctx, client, auth, make_user):
    user_id = make_user("ticks@example.com")
    with ctx():
        mail.turn_off(user_id, "thanks")
        db.session.commit()
    auth.login("ticks@example.com")
    token = csrf_token(client, "/account/")
    resp = client.post("/account/", data={"csrf_token": token, "display_name": ""})
    assert resp.status_code == 422
    assert checked_topics(resp.get_data(as_text=True)) == {topic.key for topic in mail.TOPICS} - {
        "thanks"
    }


def test_mail_choices_need_a_login_and_the_csrf_token(ctx, client, auth, make_user):
    user_id = make_user("careful@example.com")
    resp = client.post("/account/mail", data={"csrf_token": csrf_token(client, "/account/login")})
    assert resp.status_code == 302 and "/account/login" in resp.location
    auth.login("careful@example.com")
    assert client.post("/account/mail", data={}).status_code == 400
    assert opted_out(ctx, user_id) == set()


def test_the_link_and_the_footer_speak_the_recipients_language(ctx, client, make_user):
    """Needs the French of translations/parts/prefs.po merged into the catalogue."""
    user_id = make_user("amelie@example.com", name="Amélie")
    with ctx():
        user = db.session.get(User, user_id)
        user.locale = "fr"
        sent = queue_mail(user, "campaign_update", **CAMPAIGN_UPDATE)
        db.session.commit()
        path = urlsplit(sent.unsubscribe_url).path
    assert (
        "Vous recevez ce mail car «\u00a0Nouvelles des campagnes et de la production\u00a0» est"
        " activé dans votre compte." in sent.body_text
    )
    assert "Gérez tous vos mails dans votre compte\u00a0: http://localhost/account/#mail" in (
        sent.body_text
    )
    html = client.get(path, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    topic = "Nouvelles des campagnes et de la production"
    assert f"Ne plus recevoir «\u00a0{topic}\u00a0»\u202f?" in html
    assert "Se désabonner" in html
