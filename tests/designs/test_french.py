"""Designs in French: the gallery, a design's page, refusals and the designer's mail, with
French numbers and dates in the reader's time zone. (The words asserted are those of the
designs fragment of the French catalogue, the French catalogue.)"""

import datetime as dt

import pytest
import sqlalchemy as sa

from designs import jobs
from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from tests.helpers import csrf_token, png_bytes, post

from .test_submission import post_new

NNBSP, NBSP = "\u202f", "\u00a0"


def speaks_french(ctx, user_id: int) -> None:
    with ctx():
        db.session.get(User, user_id).locale = "fr"
        db.session.commit()


@pytest.fixture
def french(client):
    """A browser that asks for French (what a visitor without an account gets)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr;q=0.9,en;q=0.5"
    return client


def design_mails(ctx) -> list[OutboxMail]:
    with ctx():
        mails = db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.kind == "design_update").order_by(OutboxMail.id)
        ).all()
        db.session.expunge_all()
        return mails


def test_the_gallery_and_a_design_page_are_in_french(french, make_design):
    design_id = make_design(title="Vagues", closes_in=dt.timedelta(days=3))

    gallery = french.get("/designs/").get_data(as_text=True)
    assert '<html lang="fr"' in gallery
    assert "Comment fonctionne la notation" in gallery
    assert '<option value="all" selected>Tous</option>' in gallery
    assert '<option value="voting" >Ouverts à la notation</option>' in gallery
    assert "ouvert à la notation</span>" in gallery  # the card's state badge
    assert "clôture le" in gallery and "(heure de Paris)" in gallery
    assert "Open for scoring" not in gallery and "Score the designs" not in gallery

    page = french.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "Vagues" in page  # the designer's title stays as written
    assert "Se connecter pour noter" in page
    assert "La notation se clôt le" in page
    assert "Historique" in page and "Pas encore de commentaire." in page
    assert "<a href=" in page and "Connectez-vous</a> pour commenter." in page
    for english in ("Log in to score", "Timeline", "No comments yet", "Scoring closes"):
        assert english not in page

    scoring = french.get("/about/scoring").get_data(as_text=True)
    assert "Chaque design qui passe le contrôle qualité est ouvert à la notation" in scoring
    assert f"95&nbsp;{NNBSP}%" not in scoring and "95&nbsp;%" in scoring


def test_an_upload_refusal_is_explained_in_french_with_french_numbers(
    client, ctx, make_user, auth, product_id, upload_dir
):
    user_id = make_user("artiste@example.com", designer=True, name="Artiste")
    speaks_french(ctx, user_id)
    auth.login("artiste@example.com")

    resp = post_new(client, (png_bytes(7000, 10), "large.png"), product_id=product_id)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert (
        f"L’image fait 7{NNBSP}000 × 10 pixels{NNBSP}; la taille maximale acceptée est de "
        f"6{NNBSP}000 × 6{NNBSP}000." in html
    )
    # The field's hint too, with the configured pixel budget.
    assert "PNG, JPEG ou WebP" in html and "mégapixels au total" in html

    resp = post_new(client, (b"", "empty.png"), product_id=product_id)
    assert resp.status_code == 422
    assert "Le fichier est vide." in resp.get_data(as_text=True)


def test_a_comment_refusal_is_in_french(client, ctx, make_user, auth, make_design):
    design_id = make_design()
    user_id = make_user("lectrice@example.com", name="Lectrice")
    speaks_french(ctx, user_id)
    auth.login("lectrice@example.com")

    resp = post(client, f"/designs/{design_id}/comments", f"/designs/{design_id}", body="  ")
    assert resp.status_code == 422
    assert f"Un commentaire compte de 1 à 1{NNBSP}000 caractères." in resp.get_data(as_text=True)

    token = csrf_token(client, f"/designs/{design_id}")
    resp = client.post(
        f"/designs/{design_id}/comments", data={"csrf_token": token, "body": "x" * 1001}
    )
    assert resp.status_code == 422
    assert "Un commentaire compte de 1 à 1" in resp.get_data(as_text=True)


def test_the_designer_gets_their_design_mail_in_french_whoever_decides(
    app, client, ctx, auth, make_user, make_design
):
    designer = make_user("artiste@example.com", designer=True, name="Camille")
    speaks_french(ctx, designer)
    make_user("staff@example.com", operator=True, name="Staff")  # an English-speaking operator
    waves = make_design(designer, state=DesignState.SUBMITTED, title="Vagues")
    copy = make_design(designer, state=DesignState.SUBMITTED, title="Copie")
    auth.login("staff@example.com")

    post(client, f"/operator/designs/{waves}/approve", "/operator/designs/review")
    approved = design_mails(ctx)[-1]
    assert approved.subject == f"«{NBSP}Vagues{NBSP}» est ouvert à la notation"
    assert approved.body_text.startswith("Bonjour Camille,\n\n")
    assert "Votre design a passé le contrôle qualité." in approved.body_text
    assert "jusqu’au" in approved.body_text and "(heure de Paris)" in approved.body_text
    assert f"Voir votre design{NBSP}: http" in approved.body_text
    # Signed before the unsubscribe footer, which follows the "-- " separator.
    letter, _, footer = approved.body_text.partition("\n-- \n")
    assert letter.rstrip().endswith("L’équipe Cocréa")
    assert f"Gérez tous vos mails dans votre compte{NBSP}: http" in footer

    post(
        client,
        f"/operator/designs/{copy}/decline",
        "/operator/designs/review",
        reason="ip_concern",
        message="Trop proche d'un logo connu.",
    )
    declined = design_mails(ctx)[-1]
    assert declined.subject == f"«{NBSP}Copie{NBSP}» a été refusé"
    assert (
        f"Propriété intellectuelle{NBSP}: il pourrait reprendre l’œuvre ou la marque de "
        "quelqu’un d’autre. Trop proche d'un logo connu." in declined.body_text
    )
    # The operator's own page stayed in English.
    assert "Declined; the designer sees the reason." in client.get(
        "/operator/designs/review"
    ).get_data(as_text=True)


def test_a_design_closed_with_too_few_votes_is_explained_in_french(
    app, ctx, french, make_user, make_design, monkeypatch
):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 3)
    designer = make_user("artiste@example.com", designer=True, name="Camille")
    speaks_french(ctx, designer)
    voter = make_user("votante@example.com")
    lonely = make_design(
        designer, votes=((voter, 4, True),), closes_in=dt.timedelta(seconds=-1), title="Seul"
    )
    with ctx():
        assert jobs.close_due_windows() == 1  # a job: no request, no reader's language

    mail = design_mails(ctx)[-1]
    assert mail.subject == f"Notation close pour «{NBSP}Seul{NBSP}»"
    why = f"Trop peu de votes pour juger. 1 vote{NNBSP}; il en faut 3 pour la présélection."
    assert why in mail.body_text

    page = french.get(f"/designs/{lonely}").get_data(as_text=True)
    assert f"Non retenu{NBSP}:" in page and why in page
    assert "moyenne de 1 vote" in page and "4,0" in page


def test_a_declined_design_is_revised_in_french_beside_its_reason(
    ctx, french, auth, make_user, make_design
):
    designer = make_user("artiste@example.com", designer=True, name="Camille")
    speaks_french(ctx, designer)
    design_id = make_design(designer, state=DesignState.DECLINED, title="Brume")
    with ctx():
        design = db.session.get(Design, design_id)
        design.decision_reason, design.decision_message = "quality", "Les traits sont fins."
        db.session.commit()
    auth.login("artiste@example.com")
    page = french.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "Réviser ce design" in page and "Notes</h2>" not in page
    form = french.get(f"/designs/{design_id}/edit").get_data(as_text=True)
    assert f"Réviser «{NBSP}Brume{NBSP}»" in form
    assert f"Pourquoi il a été refusé{NBSP}:" in form and "Les traits sont fins." in form
