"""Redesign challenges in French: the console's suggestions, the challenge page, and the
mails to a French designer and a French rater."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from designs import services as designs
from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.redesigns import services
from tests.helpers import login_as

FR = {"Accept-Language": "fr"}
NNBSP, NBSP = "\u202f", "\u00a0"


def test_the_console_and_the_challenge_page_speak_french(
    client, auth, ctx, make_produced, open_challenge
):
    produced = make_produced((1,) * 10)
    with ctx():
        operator = db.session.get(User, produced.operator_id)
        operator.locale = "fr"
        email = operator.email
        db.session.commit()
    login_as(client, auth, email)
    console = client.get("/operator/redesigns/", headers=FR).get_data(as_text=True)
    assert "Suggérés pour une refonte" in console
    assert "Moyenne 1,00 sur 10 notes" in console
    assert "Ouvrir l’appel" in console and "Cahier des charges (public)" in console
    challenge_id = open_challenge(produced)
    page = client.get(f"/redesigns/{challenge_id}", headers=FR).get_data(as_text=True)
    assert f"Appel à refontes{NBSP}: «{NBSP}" in page
    assert "Les refontes sont acceptées jusqu’au" in page
    assert "Ce qu’en disent les acheteurs" in page


def test_the_mails_go_in_each_readers_language(ctx, make_user, make_produced, product_id):
    produced = make_produced((1, 2), backers=2)
    with ctx():
        for user_id in (produced.designer_id, produced.backer_ids[0]):
            db.session.get(User, user_id).locale = "fr"
        db.session.commit()
    with ctx():
        operator = db.session.get(User, produced.operator_id)
        services.open_challenge(
            produced.design_id,
            operator,
            "L’impression passe au lavage : gardez le dessin, faites-le durer.",
            utcnow() + dt.timedelta(days=10),
            produced.rating_ids[:1],
        )
        redesigner = db.session.get(User, make_user("re@example.com", designer=True))
        redesign = designs.create_draft(
            redesigner,
            designs.Artwork("k" * 32, 64, 64, "PNG"),
            redesign_of_id=produced.design_id,
            title="Coucher durable",
            description="",
            tags="",
            product_id=product_id,
            variants="S",
            what_changed="Sérigraphie au lieu du transfert.",
        )
        designs.submit(redesign, redesigner)
        designs.approve(redesign.id, operator)
        db.session.commit()
        mails = {
            (m.kind, m.user_id): m
            for m in db.session.scalars(
                sa.select(OutboxMail).where(OutboxMail.kind.like("redesign_%"))
            )
        }
    challenge = mails["redesign_challenge", produced.designer_id]
    assert challenge.subject.startswith(f"Un appel à refontes s’ouvre sur «{NBSP}")
    assert f"Le cahier des charges{NBSP}:" in challenge.body_text
    french = mails["redesign_invitation", produced.backer_ids[0]]
    assert french.subject.startswith("Notez une refonte de")
    assert f"La noter{NBSP}: http" in french.body_text
    english = mails["redesign_invitation", produced.backer_ids[1]]
    assert english.subject.startswith("Score a redesign of")
