"""Drafts and uploads through the pages: good uploads are stored, bad ones leave nothing."""

import io

import pytest
import sqlalchemy as sa

from designs.models import Design, DesignState
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from tests.helpers import bomb_png, csrf_token, files_under, png_bytes, post


def post_new(client, upload: tuple[bytes, str] | None, **fields):
    token = csrf_token(client, "/designs/new")
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


def multipart(fields: dict, upload: tuple[bytes, str] | None) -> tuple[bytes, str]:
    """Encode the form in memory: Werkzeug's test client spools bodies over 500 KB to a
    temporary file that it never closes, which the suite's warnings-as-errors would catch."""
    boundary = "----cocrea-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    if upload is not None:
        content, filename = upload
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="artwork"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


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
    assert resp.headers["Location"].endswith("/account/designer")


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


def test_submitting_needs_the_licence_and_records_its_version(
    app, client, ctx, designer, product_id
):
    post_new(client, (png_bytes(), "one.png"), product_id=product_id)
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    token = csrf_token(client, f"/designs/{design_id}")
    resp = client.post(f"/designs/{design_id}/submit", data={"csrf_token": token})
    assert resp.status_code == 303
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.DRAFT
    resp = client.post(
        f"/designs/{design_id}/submit", data={"csrf_token": token, "accept_terms": "y"}
    )
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
