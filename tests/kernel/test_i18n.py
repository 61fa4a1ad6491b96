"""Which language and time zone a page or a mail is written in, and how dates, times and money
read in each: the account's choice, else the switcher's, else the browser's, else English;
times in the reader's zone (Paris by default), stored in UTC."""

import datetime as dt

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from marketplace.accounts.models import User
from marketplace.kernel import i18n
from marketplace.kernel.extensions import db
from tests.helpers import Auth, csrf_token

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def lang_of(html: str) -> str:
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_the_browsers_language_is_used_and_the_page_says_so(app):
    french = app.test_client().get("/account/login", headers=FRENCH).get_data(as_text=True)
    assert lang_of(french) == "fr"
    assert "Langue" in french  # the switcher's label
    english = app.test_client().get("/account/login").get_data(as_text=True)
    assert lang_of(english) == "en"
    unknown = app.test_client().get("/account/login", headers={"Accept-Language": "de"})
    assert lang_of(unknown.get_data(as_text=True)) == "en"


def test_a_visitors_switch_is_kept_for_the_visit(app, client):
    resp = client.get("/language/fr?next=/campaigns/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/campaigns/")
    assert lang_of(client.get("/account/login").get_data(as_text=True)) == "fr"
    # The switch beats the browser's own preference.
    client.get("/language/en")
    assert lang_of(client.get("/account/login", headers=FRENCH).get_data(as_text=True)) == "en"


def test_the_switcher_refuses_unknown_languages_and_foreign_redirects(client):
    assert client.get("/language/xx").status_code == 404
    resp = client.get("/language/fr?next=//evil.example/")
    assert resp.status_code == 303 and "evil.example" not in resp.headers["Location"]


def test_a_logged_in_switch_is_saved_on_the_account_and_needs_the_form_token(
    app, client, ctx, make_user
):
    user_id = make_user("member@example.com")
    Auth(client).login("member@example.com")
    assert client.post("/language/fr").status_code == 400  # no CSRF token
    token = csrf_token(client, "/account/")
    assert client.post("/language/fr?next=/pledges/", data={"csrf_token": token}).status_code == 303
    with ctx():
        assert db.session.get(User, user_id).locale == "fr"
    # The saved choice wins over the browser's, on any device.
    other = app.test_client()
    Auth(other).login("member@example.com")
    page = other.get("/account/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert lang_of(page) == "fr"


def test_the_account_page_saves_language_and_time_zone(client, ctx, make_user):
    user_id = make_user("member@example.com")
    Auth(client).login("member@example.com")
    token = csrf_token(client, "/account/")
    resp = client.post(
        "/account/",
        data={
            "csrf_token": token,
            "display_name": "Membre",
            "locale": "fr",
            "time_zone": "America/Toronto",
        },
    )
    assert resp.status_code == 302
    with ctx():
        user = db.session.get(User, user_id)
        assert (user.locale, user.time_zone) == ("fr", "America/Toronto")
    bad = client.post(
        "/account/",
        data={"csrf_token": token, "display_name": "Membre", "locale": "fr", "time_zone": "Mars"},
    )
    assert bad.status_code == 422
    with ctx():
        assert db.session.get(User, user_id).time_zone == "America/Toronto"


def test_a_sign_up_keeps_the_language_it_was_made_in_and_the_browsers_time_zone(app, ctx):
    client = app.test_client()
    page = "/account/register"
    resp = client.post(
        page,
        headers=FRENCH,
        data={
            "csrf_token": csrf_token(client, page),
            "email": "nouveau@example.com",
            "display_name": "Nouveau",
            "password": "a long enough password",
            "confirm": "a long enough password",
            "time_zone": "Europe/Brussels",
        },
    )
    assert resp.status_code == 302
    with ctx():
        user = db.session.scalar(sa.select(User).where(User.email == "nouveau@example.com"))
        assert (user.locale, user.time_zone) == ("fr", "Europe/Brussels")


def test_a_sign_up_with_a_made_up_time_zone_gets_the_default(app, ctx):
    client = app.test_client()
    page = "/account/register"
    client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "email": "new@example.com",
            "display_name": "New",
            "password": "a long enough password",
            "confirm": "a long enough password",
            "time_zone": "Nowhere/Land",
        },
    )
    with ctx():
        user = db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
        assert (user.locale, user.time_zone) == ("en", "Europe/Paris")


MOMENT = dt.datetime(2026, 7, 14, 20, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("language", "zone", "written"),
    [
        ("fr", "Europe/Paris", "14 juil. 2026, 22:30 (heure de Paris)"),
        ("en", "Europe/Paris", "Jul 14, 2026, 10:30\u202fPM (Paris)"),
        ("en", "America/New_York", "Jul 14, 2026, 4:30\u202fPM (New York)"),
    ],
)
def test_moments_are_written_in_the_readers_language_and_zone(app, language, zone, written):
    reader = User(locale=language, time_zone=zone)
    with app.test_request_context("/"), i18n.in_terms_of(reader):
        assert i18n.when(MOMENT) == written


@pytest.mark.parametrize(
    ("language", "cents", "written"),
    [
        ("fr", 123450, "1\u202f234,50\xa0€"),
        ("en", 123450, "€1,234.50"),
        ("fr", -1250, "-12,50\xa0€"),
        ("en", 0, "€0.00"),
    ],
)
def test_money_is_written_for_the_locale(app, language, cents, written):
    with app.test_request_context("/"), force_locale(language):
        assert i18n.money(cents, "EUR") == written


def test_a_mail_is_written_in_its_recipients_terms_not_the_senders(app):
    reader = User(locale="fr", time_zone="Europe/Paris")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert i18n.when(MOMENT, zone=False) == "Jul 14, 2026, 10:30\u202fPM"
        with i18n.in_terms_of(reader):
            assert i18n.when(MOMENT, zone=False) == "14 juil. 2026, 22:30"
            assert i18n.current_language() == "fr"
        # Back to the request's own terms afterwards.
        assert i18n.current_language() == "en"
        assert i18n.when(MOMENT, zone=False) == "Jul 14, 2026, 10:30\u202fPM"


def test_anonymous_pages_are_cached_once_per_language(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 30)
    first = app.test_client().get("/", headers=FRENCH)
    assert first.headers["X-Cache"] == "miss" and "Accept-Language" in first.headers["Vary"]
    english = app.test_client().get("/")
    assert english.headers["X-Cache"] == "miss"
    assert lang_of(english.get_data(as_text=True)) == "en"
    again = app.test_client().get("/", headers={"Accept-Language": "fr-CA"})
    assert again.headers["X-Cache"] == "hit"
    assert lang_of(again.get_data(as_text=True)) == "fr"
