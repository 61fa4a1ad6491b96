"""Production and the operator console in French: the pages, their messages, the mail to a
French backer and the manufacturer's CSV speak French to whoever chose it, while the other
backers of the same run still get English mail."""

import csv
import io

import sqlalchemy as sa
from babel.dates import format_date

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from tests.helpers import login_as, post
from tests.production.test_production import SHIP_DATE, answer, launch, settled, step

__all__ = ["settled"]  # the fixture, shared with the English tests

FR = {"Accept-Language": "fr"}
NNBSP, NBSP = "\u202f", "\u00a0"


def speaks_french(ctx, *emails):
    with ctx():
        for email in emails:
            db.session.scalar(sa.select(User).where(User.email == email)).locale = "fr"
        db.session.commit()


def test_the_console_and_a_run_page_in_french(client, auth, ctx, settled):
    speaks_french(ctx, "ops@example.com")
    run_id = launch(ctx, settled)
    login_as(client, auth, "ops@example.com")
    console = client.get("/operator/", headers=FR).get_data(as_text=True)
    assert "Console d’exploitation" in console
    assert "Séries de production en cours" in console
    assert f"Test tee{NBSP}: 3 personnes sans adresse" in console
    assert "Work queues" not in console and "Latest events" not in console

    page = client.get(f"/operator/production/runs/{run_id}").get_data(as_text=True)
    assert f"Série de production n°{NBSP}{run_id}" in page
    assert "planifiée" in page and "Marquer comme commandée au fabricant" in page
    assert "Télécharger les commandes (CSV)" in page and "pas encore d’adresse" in page

    # A step it cannot take yet: the refusal is in French.
    refused = step(client, run_id, "ship")
    assert refused.status_code == 409
    assert (
        f"Cette série est planifiée{NBSP}: elle ne peut pas passer à cette étape maintenant."
        in refused.get_data(as_text=True)
    )
    moved = step(client, run_id, "order")
    assert moved.status_code == 302
    after = client.get(moved.location).get_data(as_text=True)
    assert f"Série commandée{NNBSP}; les personnes qui ont contribué" in after

    short = post(
        client,
        f"/operator/production/runs/{run_id}/cancel",
        f"/operator/production/runs/{run_id}",
        reason="Trop tôt",
    )
    assert short.status_code == 422
    assert "Donnez une raison publique d’au moins 10 caractères" in short.get_data(as_text=True)


def test_the_orders_csv_speaks_the_operators_language(client, auth, ctx, settled):
    run_id = launch(ctx, settled)
    speaks_french(ctx, "ops@example.com")
    login_as(client, auth, "ops@example.com")
    raw = client.get(f"/operator/production/runs/{run_id}/orders.csv").get_data()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "commande",
        "contribution",
        "contributeur·rice",
        "e-mail",
        "variante",
        "quantité",
        "nom du destinataire",
        "adresse",
        "complément d’adresse",
        "code postal",
        "ville",
        "pays",
        "téléphone",
        "adresse confirmée",
        "état de la commande",
        "suivi",
    ]
    assert {tuple(r[-3:-1]) for r in rows[1:]} == {("PAS ENCORE D’ADRESSE", "en attente")}


def test_the_survey_in_french(client, auth, ctx, settled):
    speaks_french(ctx, "ada@example.com")
    pledge_id = settled["pledges"]["ada"]
    login_as(client, auth, "ada@example.com")
    page = client.get(f"/pledges/{pledge_id}/survey").get_data(as_text=True)
    assert f"Où devons-nous l’envoyer{NNBSP}?" in page
    assert "Nom sur le colis" in page and "Enregistrer mes informations de livraison" in page
    assert "2 × <strong>S</strong> de" in page and f"50,00{NBSP}€" in page
    # The banner on every page, in French too.
    home = client.get("/").get_data(as_text=True)
    assert f"Où devons-nous envoyer votre Test tee{NNBSP}?" in home

    wrong = answer(client, auth, "ada@example.com", pledge_id, country="F1")
    assert wrong.status_code == 422
    assert "Indiquez le pays par son code à deux lettres" in wrong.get_data(as_text=True)
    saved = answer(client, auth, "ada@example.com", pledge_id)
    assert saved.status_code == 302
    mine = client.get(saved.location).get_data(as_text=True)
    assert f"Merci{NBSP}: vos informations de livraison sont enregistrées." in mine
    assert "Livraison à Ada Lovelace, Lyon (FR)." in mine


def test_a_french_backer_gets_the_run_update_in_french(ctx, settled):
    speaks_french(ctx, "ada@example.com")
    launch(ctx, settled)
    with ctx():
        mails = {
            m.to_address: m
            for m in db.session.scalars(
                sa.select(OutboxMail).where(OutboxMail.kind == "run_update")
            )
        }
    ada, ben = mails["ada@example.com"], mails["ben@example.com"]
    assert ada.subject == f"Test tee{NBSP}: la production est planifiée"
    assert ada.body_text.startswith("Bonjour Ada,")
    day = format_date(SHIP_DATE, "long", locale="fr")
    assert (
        f"La série de production de Test tee est planifiée avec Atelier Lyon{NBSP}: 6 unités, "
        f"expédition prévue vers le {day}." in ada.body_text
    )
    assert "L’équipe Cocréa" in ada.body_text
    # The same run, mailed to an English-speaking backer: English.
    assert ben.subject == "Test tee: production is planned"
    assert ben.body_text.startswith("Hello Ben,")
    assert format_date(SHIP_DATE, "long", locale="en") in ben.body_text


def test_a_french_designers_earnings_read_in_french(client, auth, ctx, settled, run_jobs):
    from payments import ledger, refunds

    launch(ctx, settled)
    with ctx():
        operator = db.session.get(User, settled["operator"])
        refunds.request_refund(settled["pledges"]["cy"], operator, "Damaged on arrival")
        ledger.record_payout(settled["designer"], operator, 500, "EUR", "VIR-7")
        db.session.get(User, settled["designer"]).locale = "fr"
        db.session.commit()
    run_jobs(("settlement",))
    login_as(client, auth, "designer@example.com")
    page = client.get("/account/earnings").get_data(as_text=True)
    assert "Droits sur la série de production n°" in page and "6 unités de Test tee" in page
    assert "remboursée\u00a0: ses 3 unités quittent la série" in page
    assert "Versement\u00a0: VIR-7" in page
    assert "Royalty on" not in page and "refunded" not in page
