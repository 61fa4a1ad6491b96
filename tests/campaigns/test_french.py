"""Campaigns and pledges in French: a French reader gets French words, French money
(1 234,50 €) and deadlines in Paris time, on the pages, in the refusals and in the mail."""

import datetime as dt
import secrets
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns import services
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from tests.helpers import Auth, csrf_token, pledge_row

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
#: Babel's French: a narrow no-break space between thousands, a no-break space before €.
PRICE_FR = "1\u202f234,50\u00a0€"


def french_account(make_user, ctx, email):
    user_id = make_user(email, name="Camille")
    with ctx():
        db.session.get(User, user_id).locale = "fr"
        db.session.commit()
    return user_id


def paris_time(ctx, campaign_id) -> str:
    with ctx():
        deadline = db.session.get(Campaign, campaign_id).deadline
    return deadline.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")


def variant_ids(ctx, campaign_id):
    with ctx():
        return {v.label: v.id for v in db.session.get(Campaign, campaign_id).variants}


def test_a_campaign_page_in_french_has_french_money_and_its_deadline_in_paris_time(
    client, ctx, make_campaign
):
    campaign_id = make_campaign(price=123450, goal=10)

    page = client.get(f"/campaigns/{campaign_id}", headers=FRENCH).get_data(as_text=True)

    assert f"{PRICE_FR} l’unité" in page
    assert "Où va l’argent" in page and "Prix unitaire" in page
    assert "Tout ou rien\u00a0: vous n’êtes débité que si l’objectif de 10 unités" in page
    assert f"{paris_time(ctx, campaign_id)} (heure de Paris)" in page
    assert "per unit" not in page and "Where the money goes" not in page
    # English stays the default.
    english = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "€1,234.50 per unit" in english


def test_my_pledges_in_french(client, ctx, make_user, make_campaign):
    campaign_id = make_campaign(price=123450)
    backer = french_account(make_user, ctx, "camille@example.com")
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        db.session.add(
            pledge_row(campaign, campaign.variants[0], backer, 1, idempotency_key="k" * 24)
        )
        db.session.commit()
    Auth(client).login("camille@example.com")

    page = client.get("/pledges/").get_data(as_text=True)

    assert "<h1>Mes contributions</h1>" in page
    assert f"<strong>{PRICE_FR}</strong>" in page
    assert "Pas encore comptée\u00a0: ajoutez votre carte" in page
    assert "carte attendue" in page  # the pledge's state, in French
    assert "Not counted yet" not in page


def test_a_refused_pledge_says_why_in_french(
    app, client, ctx, make_user, make_campaign, monkeypatch
):
    monkeypatch.setitem(app.config, "LIMITED_UNITS_PER_ACCOUNT", 3)
    campaign_id = make_campaign(variants=(("Or", 2), ("Uni", None)))
    french_account(make_user, ctx, "camille@example.com")
    Auth(client).login("camille@example.com")
    ids = variant_ids(ctx, campaign_id)

    def pledge(variant, quantity):
        return client.post(
            f"/campaigns/{campaign_id}/pledge",
            data={
                "csrf_token": csrf_token(client, f"/campaigns/{campaign_id}"),
                "variant_id": ids[variant],
                "quantity": quantity,
                "idempotency_key": secrets.token_urlsafe(24),
            },
        )

    sold_out = pledge("Or", 3)
    assert sold_out.status_code == 409
    assert "Il ne reste que 2 Or." in sold_out.get_data(as_text=True)
    too_many = pledge("Uni", 11)
    assert too_many.status_code == 422
    assert "Choisissez une variante et une quantité de 1 à 10." in too_many.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 0


def test_the_pledge_confirmed_mail_of_a_french_backer_is_in_french(ctx, make_user, make_campaign):
    campaign_id = make_campaign(price=123450, goal=10, deadline_in=dt.timedelta(days=20))
    backer = french_account(make_user, ctx, "camille@example.com")
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        pledge = pledge_row(campaign, campaign.variants[0], backer, 1, idempotency_key="k" * 24)
        db.session.add(pledge)
        db.session.flush()
        services.activate_pledge(
            pledge, db.session.get(User, backer), "pm_card_visa", "Visa •••• 4242"
        )
        db.session.commit()
        mail = db.session.scalar(sa.select(OutboxMail).where(OutboxMail.kind == "pledge_confirmed"))
        subject, body = mail.subject, mail.body_text

    assert subject.startswith("Votre contribution pour ")
    assert body.startswith("Bonjour Camille,")
    assert f"Merci\u202f! Votre contribution est enregistrée\u00a0: 1 × S, {PRICE_FR}." in body
    assert "objectif de 10 unités d’ici le" in body
    assert f"{paris_time(ctx, campaign_id)} (heure de Paris)" in body
    assert "L’équipe Cocréa" in body
    assert "Thank you" not in body and "UTC" not in body
