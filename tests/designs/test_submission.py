"""Drafts and uploads through the pages: good uploads are stored, bad ones leave nothing."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from designs import services
from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from tests.helpers import (
    bomb_png,
    csrf_in,
    csrf_token,
    files_under,
    jpeg_bytes,
    login_as,
    multipart,
    png_bytes,
    post,
    with_frame_size,
)


def post_new(client, upload: tuple[bytes, str] | None, **fields):
    token = csrf_token(client, "/account/")
    data = {
        "csrf_token": token,
        "title": "Sunset over Lyon",
        "description": "Warm colours.\nSecond line <b>not bold</b>",
        "product_id": fields.pop("product_id"),
        "variants": "S, M, L, m",
        "tags": "Retro, city, retro",
        **fields,
    }
    body, content_type = multipart(data, upload)
    return client.post("/designs/new", data=body, content_type=content_type)


@pytest.fixture
def designer(make_user, auth):
    user_id = make_user("artist@example.com", designer=True, name="Artist")
    auth.login("artist@example.com")
    return user_id


def test_a_member_must_accept_the_designer_terms_before_submitting(client, auth, make_user):
    make_user("member@example.com")
    auth.login("member@example.com")
    resp = client.get("/designs/new")
    assert resp.status_code == 302
    # To the terms, and from them back to the form.
    assert resp.headers["Location"].endswith("/account/designer?next=/designs/new")


def test_designer_creates_a_draft_only_they_can_see(
    app, client, ctx, designer, product_id, upload_dir
):
    resp = post_new(client, (png_bytes(300, 200), "my photo.png"), product_id=product_id)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with ctx():
        design = db.session.scalar(sa.select(Design))
        assert design.state == DesignState.DRAFT
        assert design.title == "Sunset over Lyon"
        assert design.tag_names == ["city", "retro"]
        assert [v.label for v in design.variants] == ["S", "M", "L"]
        assert (design.artwork_width, design.artwork_height, design.artwork_format) == (
            300,
            200,
            "PNG",
        )
        key = design.artwork_key
        design_id = design.id
    stored = files_under(upload_dir)
    assert len(stored) == 3 and all(key in path for path in stored)
    assert not any("my photo" in path for path in stored)

    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "This is a draft" in page
    assert "Second line &lt;b&gt;not bold&lt;/b&gt;" in page  # plain text, escaped
    with client.get(f"/designs/{design_id}/artwork/detail") as resp:
        assert resp.status_code == 200
        assert resp.mimetype == "image/webp"
        assert "private" in resp.headers["Cache-Control"]

    other = app.test_client()
    assert other.get(f"/designs/{design_id}").status_code == 404
    assert other.get(f"/designs/{design_id}/artwork/original").status_code == 404


BAD_UPLOADS = [
    ("text named .png", b"this is not an image at all", "art.png", 422, "Only PNG, JPEG or WebP"),
    (
        "truncated PNG",
        png_bytes(400, 400, (1, 2, 3, 255))[:300],
        "art.png",
        422,
        "damaged or incomplete",
    ),
    ("7000 px wide", None, "wide.png", 422, "6,000"),
    (
        "SVG",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "art.svg",
        422,
        "Only PNG",
    ),
    (
        "11 MB",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024),
        "big.png",
        413,
        "larger than 10 MB",
    ),
]


@pytest.mark.parametrize(("case", "content", "name", "status", "message"), BAD_UPLOADS)
def test_bad_upload_is_refused_with_a_clear_message_and_leaves_nothing(
    client, ctx, designer, product_id, upload_dir, case, content, name, status, message
):
    if content is None:
        content = png_bytes(7000, 10)
    resp = post_new(client, (content, name), product_id=product_id)
    assert resp.status_code == status
    html = resp.get_data(as_text=True)
    assert message in html
    assert 'id="artwork-error"' in html  # shown next to the field
    assert files_under(upload_dir) == []
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Design)) == 0


def test_a_decompression_bomb_is_refused_and_leaves_nothing(
    client, ctx, designer, product_id, upload_dir
):
    content = bomb_png(30_000, 30_000)
    assert len(content) < 200_000
    resp = post_new(client, (content, "bomb.png"), product_id=product_id)
    assert resp.status_code == 422
    assert "6,000" in resp.get_data(as_text=True) or "bomb" in resp.get_data(as_text=True)
    assert files_under(upload_dir) == []


def test_invalid_fields_with_a_good_image_leave_no_file(
    client, ctx, designer, product_id, upload_dir
):
    resp = post_new(client, (png_bytes(), "ok.png"), product_id=product_id, title="ab")
    assert resp.status_code == 422
    assert files_under(upload_dir) == []
    resp = post_new(client, (png_bytes(), "ok.png"), product_id=product_id, tags="a,b,c,d,e,f")
    assert resp.status_code == 422
    assert "at most 5 tags" in resp.get_data(as_text=True)
    assert files_under(upload_dir) == []
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Design)) == 0


def test_missing_artwork_is_a_field_error(client, designer, product_id):
    resp = post_new(client, None, product_id=product_id)
    assert resp.status_code == 422
    assert "Choose the image of your design." in resp.get_data(as_text=True)


def test_editing_a_draft_replaces_the_artwork_and_deletes_the_old_files(
    client, ctx, designer, product_id, upload_dir
):
    post_new(client, (png_bytes(), "one.png"), product_id=product_id)
    with ctx():
        design = db.session.scalar(sa.select(Design))
        design_id, old_key = design.id, design.artwork_key
    resp = post(
        client,
        f"/designs/{design_id}/edit",
        f"/designs/{design_id}/edit",
        title="Renamed",
        description="",
        product_id=product_id,
        variants="One size",
        tags="",
        artwork=(io.BytesIO(png_bytes(120, 80)), "two.png"),
    )
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.title == "Renamed" and design.artwork_width == 120
        assert [v.label for v in design.variants] == ["One size"]
        new_key = design.artwork_key
    stored = files_under(upload_dir)
    assert len(stored) == 3
    assert all(new_key in p for p in stored) and not any(old_key in p for p in stored)


def test_the_edit_form_shows_the_drafts_own_tags_and_variants(client, ctx, designer, product_id):
    post_new(client, (png_bytes(), "one.png"), product_id=product_id, tags="city, night")
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    html = client.get(f"/designs/{design_id}/edit").get_data(as_text=True)
    assert 'value="city, night"' in html
    assert "DesignTag" not in html and "DesignVariant" not in html


def test_an_edit_that_leaves_out_the_optional_fields_keeps_their_values(
    client, ctx, designer, product_id
):
    post_new(client, (png_bytes(), "one.png"), product_id=product_id, tags="city")
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    resp = post(
        client,
        f"/designs/{design_id}/edit",
        f"/designs/{design_id}/edit",
        title="Renamed",
        product_id=product_id,
    )
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.title == "Renamed" and design.tag_names == ["city"]


def test_a_designer_who_accepted_the_current_terms_submits_without_being_asked_again(
    app, client, ctx, designer, product_id
):
    """The licence is part of the designer terms, accepted once: the submission records the
    version the account accepted, without a second checkbox per design."""
    post_new(client, (png_bytes(), "one.png"), product_id=product_id)
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "I accept the licence terms" not in page
    assert "Submitting grants the licence of the" in page
    resp = client.post(f"/designs/{design_id}/submit", data={"csrf_token": csrf_in(page)})
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.SUBMITTED
        assert design.terms_version == app.config["DESIGNER_TERMS_VERSION"]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "design.submit"))
        assert (event.from_state, event.to_state, event.actor_id) == (
            "draft",
            "submitted",
            designer,
        )
    # A submitted design can no longer be edited.
    assert client.get(f"/designs/{design_id}/edit").status_code == 302


def test_new_terms_are_accepted_at_the_next_submission_once(
    app, client, ctx, designer, product_id, monkeypatch
):
    """Terms changed since the designer accepted them: the submission asks for the new
    version, refuses without it, and accepting it there records it on the account (audited),
    so the next design is not asked again."""
    for name in ("one.png", "two.png"):
        post_new(client, (png_bytes(), name), product_id=product_id)
    with ctx():
        first, second = db.session.scalars(sa.select(Design.id).order_by(Design.id)).all()
    monkeypatch.setitem(app.config, "DESIGNER_TERMS_VERSION", "2099-01")
    page = client.get(f"/designs/{first}").get_data(as_text=True)
    assert "The designer terms have changed since you accepted them" in page
    assert "I accept the licence terms" in page
    token = csrf_in(page)
    resp = client.post(f"/designs/{first}/submit", data={"csrf_token": token})
    assert resp.status_code == 303
    with ctx():
        assert db.session.get(Design, first).state == DesignState.DRAFT
        assert db.session.get(User, designer).designer_terms_version != "2099-01"

    resp = client.post(f"/designs/{first}/submit", data={"csrf_token": token, "accept_terms": "y"})
    assert resp.status_code == 302
    with ctx():
        assert db.session.get(Design, first).terms_version == "2099-01"
        assert db.session.get(User, designer).designer_terms_version == "2099-01"
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "account.designer_terms_accepted")
        )
        assert event.to_state == "2099-01"
    page = client.get(f"/designs/{second}").get_data(as_text=True)
    assert "I accept the licence terms" not in page
    resp = client.post(f"/designs/{second}/submit", data={"csrf_token": csrf_in(page)})
    assert resp.status_code == 302


def test_another_designer_cannot_edit_or_submit(app, client, ctx, make_user, auth, make_design):
    owner = make_user("owner@example.com", designer=True)
    design_id = make_design(owner, state=DesignState.DRAFT)
    make_user("other@example.com", designer=True)
    auth.login("other@example.com")
    assert client.get(f"/designs/{design_id}/edit").status_code == 404
    token = csrf_token(client, "/designs/mine")
    resp = client.post(
        f"/designs/{design_id}/submit", data={"csrf_token": token, "accept_terms": "y"}
    )
    assert resp.status_code == 404


def design_count(ctx) -> int:
    with ctx():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Design))


# --- what checking an upload may cost ---------------------------------------------------------


def test_a_six_thousand_pixel_square_jpeg_is_refused_and_nothing_is_stored(
    client, ctx, designer, product_id, upload_dir
):
    buf = io.BytesIO()
    Image.new("L", (6000, 6000), 90).save(buf, "JPEG")  # 36 MP in half a MB

    resp = post_new(client, (buf.getvalue(), "big.jpg"), product_id=product_id)

    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "the most accepted is 25,000,000 pixels" in html
    assert 'id="artwork-error"' in html
    assert "25 megapixels in all" in html  # the field's hint says so beforehand
    assert files_under(upload_dir) == []
    assert design_count(ctx) == 0


def test_the_pixel_budget_is_a_setting(app, client, ctx, designer, product_id, monkeypatch):
    monkeypatch.setitem(app.config, "ARTWORK_MAX_PIXELS", 10_000)

    resp = post_new(client, (png_bytes(200, 100), "art.png"), product_id=product_id)

    assert resp.status_code == 422
    assert "the most accepted is 10,000 pixels" in resp.get_data(as_text=True)
    assert design_count(ctx) == 0


def test_a_jpeg_whose_data_ends_before_the_picture_is_refused_and_nothing_is_stored(
    client, ctx, designer, product_id, upload_dir
):
    content = with_frame_size(jpeg_bytes(320, 240), 2000, 1500)  # grey below the 320 × 240

    resp = post_new(client, (content, "art.jpg"), product_id=product_id)

    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "damaged or incomplete" in html
    assert 'id="artwork-error"' in html
    assert files_under(upload_dir) == []
    assert design_count(ctx) == 0


def test_uploads_are_limited_per_account_and_hour(
    app, client, ctx, auth, designer, make_user, product_id, upload_dir, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_LIMIT", "3 per hour")
    assert post_new(client, (png_bytes(), "1.png"), product_id=product_id).status_code == 302
    # A refused file counts: checking it is the cost being limited.
    assert post_new(client, (b"not a picture", "2.png"), product_id=product_id).status_code == 422
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    edit = f"/designs/{design_id}/edit"
    fields = {"title": "Renamed", "product_id": product_id, "variants": "S", "tags": ""}
    assert post(client, edit, edit, **fields).status_code == 302  # no new file: no upload
    assert post_new(client, (png_bytes(), "3.png"), product_id=product_id).status_code == 302
    stored = sorted(files_under(upload_dir))

    resp = post_new(client, (png_bytes(), "4.png"), product_id=product_id, title="Fourth try")

    assert resp.status_code == 429
    html = resp.get_data(as_text=True)
    assert "You have reached the upload limit (3 per 1 hour per account)" in html
    assert 'id="artwork-error"' in html
    assert 'value="Fourth try"' in html  # what was typed is kept
    resp = post(client, edit, edit, **fields, artwork=(io.BytesIO(png_bytes(80, 80)), "5.png"))
    assert resp.status_code == 429
    assert sorted(files_under(upload_dir)) == stored
    assert design_count(ctx) == 2

    # The limit is the account's, not the address's: another designer on the same one uploads.
    make_user("second@example.com", designer=True)
    login_as(client, auth, "second@example.com")
    assert post_new(client, (png_bytes(), "6.png"), product_id=product_id).status_code == 302


# --- only confirmed addresses upload and submit -----------------------------------------------


@pytest.fixture
def unverified_designer(make_user, auth):
    user_id = make_user("new-artist@example.com", designer=True, verified=False)
    auth.login("new-artist@example.com")
    return user_id


def test_an_unverified_account_cannot_upload_artwork(
    client, ctx, unverified_designer, product_id, upload_dir
):
    page = client.get("/designs/new")
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "Confirm your email address first" in html
    assert "new-artist@example.com" in html
    assert 'action="/account/verify/resend"' in html  # "Send the link again", on the page

    resp = post_new(client, (png_bytes(), "art.png"), product_id=product_id)

    assert resp.status_code == 403
    assert "Confirm your email address first" in resp.get_data(as_text=True)
    assert files_under(upload_dir) == []
    assert design_count(ctx) == 0


def test_an_unverified_account_cannot_replace_artwork_or_submit_a_draft(
    client, ctx, unverified_designer, make_design, product_id, upload_dir
):
    # A draft made before the address had to be confirmed.
    design_id = make_design(unverified_designer, state=DesignState.DRAFT)
    with ctx():
        key = db.session.get(Design, design_id).artwork_key
    stored = sorted(files_under(upload_dir))
    token = csrf_token(client, "/account/")

    resp = client.post(
        f"/designs/{design_id}/edit",
        data={
            "csrf_token": token,
            "title": "Replaced",
            "product_id": product_id,
            "variants": "S",
            "tags": "",
            "artwork": (io.BytesIO(png_bytes(80, 80)), "new.png"),
        },
    )
    assert resp.status_code == 403
    resp = client.post(
        f"/designs/{design_id}/submit", data={"csrf_token": token, "accept_terms": "y"}
    )
    assert resp.status_code == 403
    assert "Confirm your email address first" in resp.get_data(as_text=True)

    with ctx():
        design = db.session.get(Design, design_id)
        assert (design.state, design.artwork_key, design.title) == (
            DesignState.DRAFT,
            key,
            "Design number 1",
        )
        assert not db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "design.submit")
        )
    assert sorted(files_under(upload_dir)) == stored


def test_once_verified_the_same_account_uploads_and_submits(
    client, ctx, unverified_designer, product_id
):
    with ctx():
        db.session.get(User, unverified_designer).email_verified_at = utcnow()
        db.session.commit()

    assert post_new(client, (png_bytes(), "art.png"), product_id=product_id).status_code == 302
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    token = csrf_token(client, f"/designs/{design_id}")
    resp = client.post(
        f"/designs/{design_id}/submit", data={"csrf_token": token, "accept_terms": "y"}
    )
    assert resp.status_code == 302
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.SUBMITTED


def test_a_declined_design_is_revised_beside_its_reason_and_submitted_again(
    client, ctx, designer, product_id, make_user
):
    post_new(client, (png_bytes(), "one.png"), product_id=product_id)
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    draft = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "<h2>Scores</h2>" not in draft  # nothing to score yet: no empty card
    post(client, f"/designs/{design_id}/submit", f"/designs/{design_id}", accept_terms="y")
    operator_id = make_user("ops@example.com", operator=True)
    with ctx():
        services.decline(
            design_id, db.session.get(User, operator_id), "quality", "The lines are too thin."
        )
        db.session.commit()

    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "<h2>Scores</h2>" not in page
    assert f'href="/designs/{design_id}/edit">Revise this design</a>' in page
    assert f'href="/designs/{design_id}/edit">Revise it</a>' in client.get("/designs/mine").text
    form = client.get(f"/designs/{design_id}/edit").get_data(as_text=True)
    why = "Quality: the artwork would not print well. The lines are too thin."
    assert "Revise “Sunset over Lyon”" in form and "Why it was declined:" in form and why in form

    resp = post(
        client,
        f"/designs/{design_id}/edit",
        f"/designs/{design_id}/edit",
        title="Sunset over Lyon, bolder",
        product_id=product_id,
    )
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.DRAFT and design.title == "Sunset over Lyon, bolder"
        revise = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "design.revise")
        )
        assert (revise.from_state, revise.to_state, revise.actor_id) == (
            "declined",
            "draft",
            designer,
        )
    assert why in client.get(f"/designs/{design_id}/edit").text  # still beside the form

    resp = post(client, f"/designs/{design_id}/submit", f"/designs/{design_id}", accept_terms="y")
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.SUBMITTED and design.decision_reason is None
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "Revised by the designer" in page and "Declined:" not in page
