"""In Chromium set to French in Paris, a newcomer does everything in French: signs up, confirms
the address from a French mail, becomes a designer and submits a design, scores another
one, pledges with a typed card and reads "Mes contributions" with French money and Paris
times; then switches to English and reads the same pages in English."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign
from marketplace.kernel.extensions import db
from tests.helpers import PASSWORD, png_bytes, save_card

pytestmark = [pytest.mark.browser, pytest.mark.live_db]

# 20:30 UTC on a day of summer time is 22:30 in Paris.
DEADLINE = dt.datetime(2031, 7, 14, 20, 30, tzinfo=dt.UTC)


def test_a_newcomer_does_everything_in_french_then_switches_to_english(
    app, ctx, french_page, live_server, mailbox, run_jobs, make_design, make_campaign, tmp_path
):
    page, base = french_page, live_server
    voting = make_design(title="Cerf-volant")
    campaign_id = make_campaign(price=123450, variants=(("S", None), ("M", None)))
    with ctx():
        db.session.get(Campaign, campaign_id).deadline = DEADLINE
        db.session.commit()

    # Sign up, in French because the browser asks for it.
    page.goto(base + "/account/register")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_label("E-mail").fill("lea@example.com")
    page.get_by_label("Nom affiché").fill("Léa")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_text("Bienvenue, Léa")).to_be_visible()
    with ctx():
        lea = db.session.scalar(sa.select(User).where(User.email == "lea@example.com"))
        # The language it was made in, and the browser's own time zone.
        assert (lea.locale, lea.time_zone) == ("fr", "Europe/Paris")

    # The verification mail is in French; its link confirms the address.
    assert run_jobs()["mail"] == 1
    mail = mailbox.wait_for("lea@example.com", "Confirmez votre adresse e-mail")
    body = mailbox.body(mail)
    assert "Bonjour Léa" in body
    page.goto(mailbox.link(mail))
    expect(page.get_by_text("Votre adresse e-mail est confirmée.")).to_be_visible()

    # Becomes a designer, submits a design.
    page.goto(base + "/account/designer")
    page.get_by_label("J’ai lu et j’accepte les conditions des designers").check()
    page.get_by_role("button", name="Devenir designer").click()
    artwork = tmp_path / "lune.png"
    artwork.write_bytes(png_bytes(600, 600, (30, 60, 200, 255)))
    page.goto(base + "/designs/new")
    page.get_by_label("Titre").fill("Lune sur Lyon")
    page.get_by_label("Description").fill("Une nuit bleue.")
    page.get_by_label("Produit").select_option(label="T-shirt")
    page.get_by_label("Variantes que vous proposez").fill("S, M, L")
    page.get_by_label("Visuel").set_input_files(str(artwork))
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.get_by_text("Brouillon enregistré.")).to_be_visible()
    # The licence came with the designer terms just accepted: not asked again.
    expect(page.get_by_text("Soumettre accorde la licence des")).to_be_visible()
    page.get_by_role("button", name="Soumettre à l’examen").click()
    expect(page.get_by_text("Soumis\u202f! Notre équipe contrôle chaque design")).to_be_visible()

    # Scores another design.
    page.goto(f"{base}/designs/{voting}")
    page.locator("label.score-option", has_text="4").click()
    page.get_by_label("Je l’achèterais").check()
    page.get_by_role("button", name="Enregistrer ma note").click()
    expect(page.get_by_text("Votre note est enregistrée.")).to_be_visible()

    # Pledges, with a card typed in; nothing charged now, said in French.
    page.goto(f"{base}/campaigns/{campaign_id}")
    assert page.get_by_text("1\u202f234,50\xa0€").first.is_visible()
    page.get_by_label("Variante").select_option(label="M")
    page.get_by_role("button", name="Contribuer et enregistrer ma carte").click()
    page.wait_for_url(f"{base}/pledges/*/card")
    expect(page.get_by_text("Rien n’est débité maintenant.")).to_be_visible()
    save_card(page, button="Enregistrer la carte")
    page.wait_for_url(base + "/pledges/")
    expect(page.get_by_text("Votre contribution est enregistrée.")).to_be_visible()

    # "Mes contributions": French money, the deadline in Paris time, saying so.
    expect(page.get_by_role("heading", name="Mes contributions")).to_be_visible()
    pledges = page.locator("main").inner_text()
    assert "1\u202f234,50\xa0€" in pledges
    assert re.search(r"14 juil\. 2031.{0,3}22:30 \(heure de Paris\)", pledges), pledges

    # The switcher, at the foot of the page: English from now on, saved on the account.
    page.get_by_role("button", name="English").click()
    page.wait_for_url(base + "/pledges/")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("heading", name="My pledges")).to_be_visible()
    pledges = page.locator("main").inner_text()
    assert "€1,234.50" in pledges
    assert re.search(r"Jul 14, 2031.{0,3}10:30\s?PM \(Paris\)", pledges), pledges
    page.goto(f"{base}/designs/{voting}")
    expect(page.get_by_role("button", name="Save my score")).to_be_visible()
    with ctx():
        assert db.session.get(User, lea.id).locale == "en"
