"""The account pages, their messages and their mail in French: for a visitor whose browser
asks for French, and for an account whose saved language is French (whatever the browser
says). The French is the repository's catalogue (translations/parts/accounts_pages.po)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from tests.helpers import csrf_token

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
NNBSP = "\u202f"  # before ; ! ? in French


def _french_account(ctx, make_user, email="camille@example.com", **kwargs) -> int:
    user_id = make_user(email, name="Camille", **kwargs)
    with ctx():
        db.session.get(User, user_id).locale = "fr"
        db.session.commit()
    return user_id


def test_the_login_page_is_in_french_for_a_french_browser(client):
    page = client.get("/account/login", headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "<title>Se connecter · Cocréa</title>" in page
    assert "Mot de passe oublié" + NNBSP + "?" in page
    assert "Rester connecté sur cet appareil" in page
    assert "Forgot your password?" not in page


def test_a_failed_login_says_why_in_french(client, make_user):
    make_user("camille@example.com")
    token = csrf_token(client, "/account/login")
    resp = client.post(
        "/account/login",
        data={"email": "camille@example.com", "password": "not the password", "csrf_token": token},
        headers=FRENCH,
    )
    assert resp.status_code == 401
    page = resp.get_data(as_text=True)
    assert "Cette adresse e-mail et ce mot de passe ne correspondent à aucun compte." in page
    assert "Veuillez corriger les champs signalés ci-dessous." in page


def test_a_form_error_of_wtforms_validators_is_in_french(client):
    token = csrf_token(client, "/account/register")
    resp = client.post(
        "/account/register",
        data={
            "email": "camille@example.com",
            "display_name": "C",
            "password": "short",
            "confirm": "other",
            "csrf_token": token,
        },
        headers=FRENCH,
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Utilisez entre 10 et 128 caractères." in page
    assert "Utilisez entre 2 et 60 caractères." in page
    assert "Les mots de passe ne correspondent pas." in page


def test_the_account_page_follows_the_accounts_language_not_the_browsers(
    client, auth, ctx, make_user
):
    _french_account(ctx, make_user)
    login = auth.login("camille@example.com")
    assert login.status_code == 302
    # The welcome flash is in the account's language, with French spacing before "!".
    page = client.get("/account/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Bon retour parmi nous, Camille." in page
    assert "<h1>Mon compte</h1>" in page
    assert ">Langue</label>" in page
    assert ">Fuseau horaire</label>" in page
    assert "Les dates et heures s’affichent dans ce fuseau, échéances comprises." in page
    assert "Votre compte est ouvert sur 1 navigateur\u00a0:" in page
    assert "Mes contributions" in page and "Se déconnecter partout" in page
    assert "My account" not in page


def test_saving_the_profile_in_french_answers_in_french(client, auth, ctx, make_user):
    user_id = make_user("camille@example.com", name="Camille")
    auth.login("camille@example.com")
    token = csrf_token(client, "/account/")
    resp = client.post(
        "/account/",
        data={
            "display_name": "Camille",
            "locale": "fr",
            "time_zone": "America/Toronto",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    page = resp.get_data(as_text=True)
    assert resp.history and resp.history[0].status_code == 302, page
    assert "Profil enregistré." in page
    with ctx():
        user = db.session.get(User, user_id)
        assert (user.locale, user.time_zone) == ("fr", "America/Toronto")


def test_signing_up_from_a_french_browser_sends_the_verification_mail_in_french(client, ctx):
    token = csrf_token(client, "/account/register")
    resp = client.post(
        "/account/register",
        data={
            "email": "camille@example.com",
            "display_name": "Camille",
            "password": "une phrase assez longue",
            "confirm": "une phrase assez longue",
            "csrf_token": token,
        },
        headers=FRENCH,
        follow_redirects=True,
    )
    assert f"Bienvenue, Camille{NNBSP}! Nous avons envoyé un lien" in resp.get_data(as_text=True)
    with ctx():
        user = db.session.scalar(sa.select(User))
        assert user.locale == "fr"
        mail = db.session.scalar(sa.select(OutboxMail))
    assert mail.subject == "Confirmez votre adresse e-mail pour Cocréa"
    assert mail.body_text.startswith("Bonjour Camille,\n")
    assert "Merci de confirmer qu’il s’agit bien de votre adresse en ouvrant ce lien\u00a0:" in (
        mail.body_text
    )
    assert "/account/verify/" in mail.body_text
    assert "L’équipe Cocréa" in mail.body_text


def test_the_verification_mail_goes_in_the_recipients_language_not_the_senders(
    client, auth, ctx, make_user
):
    """Resent from an English page, to an account whose language is French."""
    _french_account(ctx, make_user, verified=False)
    auth.login("camille@example.com")
    with ctx():
        db.session.execute(sa.delete(OutboxMail))
        db.session.commit()
    token = csrf_token(client, "/account/")
    client.post(
        "/account/verify/resend",
        data={"csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    with ctx():
        mail = db.session.scalar(sa.select(OutboxMail))
    assert mail.subject == "Confirmez votre adresse e-mail pour Cocréa"
    assert "Le lien est valable 7 jours." in mail.body_text


def test_the_404_page_is_in_french(client):
    resp = client.get("/no/such/page", headers=FRENCH)
    assert resp.status_code == 404
    page = resp.get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "<h1>Page introuvable</h1>" in page
    assert "Cette page n’existe pas, ou elle a été déplacée." in page
    assert ">Accueil</a>" in page


def test_a_broken_link_says_so_in_french(client):
    resp = client.get("/account/verify/not-a-token", headers=FRENCH)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Ce lien de vérification n’est pas valide." in page
    assert "Ce lien ne fonctionne pas" in page


def test_the_login_lockout_counts_its_wait_in_french(client, make_user):
    make_user("camille@example.com")
    statuses = []
    for _attempt in range(6):
        token = csrf_token(client, "/account/login")
        resp = client.post(
            "/account/login",
            data={"email": "camille@example.com", "password": "wrong", "csrf_token": token},
            headers=FRENCH,
        )
        statuses.append(resp.status_code)
    assert statuses == [401] * 5 + [429]
    page = resp.get_data(as_text=True)
    assert "<h1>Trop de tentatives</h1>" in page
    assert "Trop d’échecs de connexion à ce compte depuis votre adresse réseau." in page
    assert re.search(r"Patientez 1[45] minutes puis réessayez", page), page
    assert "Réinitialiser mon mot de passe" in page


def test_a_page_for_members_sends_a_visitor_to_log_in_in_french(client):
    resp = client.get("/account/", headers=FRENCH, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "<h1>Se connecter</h1>" in page
    assert "Connectez-vous pour continuer." in page


def test_a_rate_limit_says_its_limit_and_wait_in_french(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_LINK_LIMIT", "2 per minute")

    def ask():
        token = csrf_token(client, "/account/password/forgot")
        return client.post(
            "/account/password/forgot",
            data={"email": "nobody@example.com", "csrf_token": token},
            headers=FRENCH,
        )

    assert [ask().status_code for _ in range(2)] == [302, 302]
    blocked = ask()
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Trop de tentatives (2 en 1 minute). Patientez quelques minutes puis réessayez." in page
