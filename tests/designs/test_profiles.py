"""Designer profiles: the picture, bio and links a designer edits from their account, refused
whole when any of it is wrong, and the public page that shows them with the designs on shelves
by where each really is."""

from __future__ import annotations

import io
import os

import pytest
import sqlalchemy as sa
from PIL import Image

from designs import images, profiles
from designs.models import DesignState
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.campaigns.models import CampaignState
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from tests.helpers import (
    bomb_png,
    csrf_token,
    files_under,
    login_as,
    multipart,
    png_bytes,
)

EDIT = "/designs/profile"


@pytest.fixture
def designer(make_user, auth):
    user_id = make_user("artist@example.com", designer=True, name="Ada Lovelace")
    auth.login("artist@example.com")
    return user_id


def save(client, picture: tuple[bytes, str] | None = None, **fields):
    """Post the profile form as the browser does: every field, the picture as a file."""
    data = {
        "csrf_token": csrf_token(client, EDIT),
        "bio": "I draw birds.\r\nAnd <b>cities</b>.",
        "link1": "https://ada.example.com/portfolio/",
        "link2": "",
        "link3": "",
        **fields,
    }
    body, content_type = multipart(data, picture, name="avatar")
    return client.post(EDIT, data=body, content_type=content_type)


def profile_of(ctx, user_id):
    with ctx():
        user = db.session.get(User, user_id)
        return user.bio, list(user.links), user.avatar_key


def photo(width=600, height=400) -> bytes:
    """A picture whose centre differs from its edges, so that the crop can be checked."""
    image = Image.new("RGB", (width, height), (250, 0, 0))
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image.paste((0, 0, 250), (left, top, left + side, top + side))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


# --- the form ---------------------------------------------------------------------------------


def test_a_designer_saves_a_picture_a_bio_and_a_link(app, client, ctx, designer, upload_dir):
    resp = save(client, (photo(), "me.png"))

    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/designs/by/{designer}"
    bio, links, key = profile_of(ctx, designer)
    assert bio == "I draw birds.\nAnd <b>cities</b>."
    assert links == ["https://ada.example.com/portfolio/"]
    assert sorted(os.path.basename(p) for p in files_under(upload_dir)) == [
        "large.webp",
        "small.webp",
    ]
    for size, side in (("large", 256), ("small", 64)):
        with Image.open(images.avatar_path(upload_dir, key, size)) as stored:
            assert (stored.format, stored.size) == ("WEBP", (side, side))
            # The centred square is kept: no red edge of the wide picture survives.
            red, _green, blue = stored.convert("RGB").getpixel((0, side // 2))
            assert blue > 200 and red < 50

    page = client.get(f"/designs/by/{designer}").get_data(as_text=True)
    assert (
        '<p class="prewrap" data-testid="designer-bio">I draw birds.\nAnd &lt;b&gt;cities' in page
    )
    assert (
        '<a href="https://ada.example.com/portfolio/" rel="nofollow ugc noopener">'
        "ada.example.com/portfolio</a>"
    ) in page
    assert f'src="/designs/by/{designer}/avatar/{key}/large"' in page


def test_the_picture_is_served_under_its_key_and_cached(app, client, ctx, designer, upload_dir):
    save(client, (photo(), "me.png"))
    _bio, _links, key = profile_of(ctx, designer)
    visitor = app.test_client()

    with visitor.get(f"/designs/by/{designer}/avatar/{key}/small") as resp:
        assert resp.status_code == 200
        assert resp.mimetype == "image/webp"
        cache = resp.headers["Cache-Control"]
        assert "public" in cache and "max-age=86400" in cache and "immutable" in cache
        etag = resp.headers["ETag"]
    with visitor.get(
        f"/designs/by/{designer}/avatar/{key}/small", headers={"If-None-Match": etag}
    ) as again:
        assert again.status_code == 304
    assert visitor.get(f"/designs/by/{designer}/avatar/{key}/original").status_code == 404
    assert visitor.get(f"/designs/by/{designer}/avatar/{'x' * 24}/large").status_code == 404
    assert visitor.get(f"/designs/by/{designer + 1}/avatar/{key}/large").status_code == 404


def test_a_new_picture_replaces_the_old_one_and_leaves_no_orphan(
    app, client, ctx, designer, upload_dir
):
    save(client, (photo(), "one.png"))
    _bio, _links, first = profile_of(ctx, designer)

    assert save(client, (png_bytes(300, 300), "two.png")).status_code == 302

    _bio, _links, second = profile_of(ctx, designer)
    assert second != first
    stored = files_under(upload_dir)
    assert len(stored) == 2 and all(second in path for path in stored)
    assert app.test_client().get(f"/designs/by/{designer}/avatar/{first}/large").status_code == 404

    # Saving without a file keeps the picture; ticking "remove" deletes it.
    assert save(client, None, bio="Shorter.").status_code == 302
    assert profile_of(ctx, designer)[2] == second
    assert save(client, None, remove_avatar="y").status_code == 302
    assert profile_of(ctx, designer)[2] is None
    assert files_under(upload_dir) == []
    page = client.get(f"/designs/by/{designer}").get_data(as_text=True)
    assert '<span class="avatar avatar-large avatar-initials' in page and ">AL</span>" in page


HOSTILE_PICTURES = [
    ("text named .png", b"this is not an image at all", "me.png", 422, "Only PNG, JPEG or WebP"),
    (
        "SVG with a script",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "me.svg",
        422,
        "Only PNG, JPEG or WebP",
    ),
    ("truncated PNG", png_bytes(400, 400, (1, 2, 3, 255))[:300], "me.png", 422, "damaged"),
    ("decompression bomb", bomb_png(30_000, 30_000), "me.png", 422, "6,000"),
    ("11 MB", b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024), "me.png", 413, "10 MB"),
]


@pytest.mark.parametrize(("case", "content", "name", "status", "message"), HOSTILE_PICTURES)
def test_a_refused_picture_changes_nothing_and_keeps_what_was_typed(
    client, ctx, designer, upload_dir, case, content, name, status, message
):
    resp = save(client, (content, name), bio="A new bio, not saved.")

    assert resp.status_code == status
    page = resp.get_data(as_text=True)
    assert message in page
    assert 'id="avatar-error"' in page  # beside the file field
    assert "A new bio, not saved.</textarea>" in page
    assert 'value="https://ada.example.com/portfolio/"' in page
    assert profile_of(ctx, designer) == ("", [], None)
    assert files_under(upload_dir) == []


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("javascript:alert(document.cookie)", "starting with https://"),
        ("ftp://files.example.com/me", "starting with https://"),
        ("ada.example.com", "starting with https://"),
        ("https://localhost/", "starting with https://"),
        ("https://shop.example.com@evil.example/", "user name or password"),
        ("https://ada.example.com/a page", "no spaces"),
        ("https://ada.example.com:port/", "starting with https://"),
        ("https://ada.example.com/" + "x" * 300, "at most 300 characters"),
    ],
)
def test_a_link_that_is_not_an_http_address_is_refused_beside_it(
    client, ctx, designer, upload_dir, link, message
):
    resp = save(client, (photo(), "me.png"), link2=link)

    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    error = page.split('id="link2-error"', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert "I draw birds.\nAnd &lt;b&gt;cities&lt;/b&gt;.</textarea>" in page
    assert profile_of(ctx, designer) == ("", [], None)
    assert files_under(upload_dir) == []  # the picture was not even read


def test_a_bio_too_long_is_refused_and_nothing_is_saved(client, ctx, designer, upload_dir):
    resp = save(client, (photo(), "me.png"), bio="b" * 601)

    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Use at most 600 characters." in page.split('id="bio-error"', 1)[1]
    assert "b" * 601 + "</textarea>" in page
    assert profile_of(ctx, designer) == ("", [], None)
    assert files_under(upload_dir) == []


def test_line_breaks_count_once_against_the_bio_length(client, ctx, designer):
    bio = "\r\n".join(["x" * 99] * 6)  # 599 characters once written with \n
    assert save(client, None, bio=bio).status_code == 302
    assert profile_of(ctx, designer)[0] == bio.replace("\r\n", "\n")


def test_a_post_without_the_csrf_token_changes_nothing(client, ctx, designer, upload_dir):
    body, content_type = multipart(
        {"bio": "Forged.", "link1": "https://evil.example.com/"}, (photo(), "me.png"), "avatar"
    )
    resp = client.post(EDIT, data=body, content_type=content_type)
    assert resp.status_code == 400
    assert profile_of(ctx, designer) == ("", [], None)
    assert files_under(upload_dir) == []


def test_a_picture_stored_before_the_change_failed_is_deleted(
    client, ctx, designer, upload_dir, monkeypatch
):
    def refuse(user, key):
        raise ServiceError("Refused for the test.", 409)

    monkeypatch.setattr(accounts, "replace_avatar", refuse)
    resp = save(client, (photo(), "me.png"))
    assert resp.status_code == 409
    assert "Refused for the test." in resp.get_data(as_text=True)
    assert profile_of(ctx, designer) == ("", [], None)
    assert files_under(upload_dir) == []


def test_pictures_count_against_the_accounts_upload_limit(
    app, client, ctx, designer, upload_dir, monkeypatch
):
    monkeypatch.setitem(app.config, "UPLOAD_LIMIT", "2 per hour")
    assert save(client, (photo(), "1.png")).status_code == 302
    assert save(client, (b"not a picture", "2.png")).status_code == 422
    resp = save(client, (photo(), "3.png"), bio="Kept.")
    assert resp.status_code == 429
    assert "You have reached the upload limit" in resp.get_data(as_text=True)
    assert len(files_under(upload_dir)) == 2


def test_only_designers_with_a_confirmed_address_edit_a_profile(app, client, auth, make_user):
    assert client.get(EDIT).status_code == 302  # to the login
    make_user("member@example.com")
    login_as(client, auth, "member@example.com")
    resp = client.get(EDIT)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/account/designer?next=/designs/profile")
    make_user("new@example.com", designer=True, verified=False)
    login_as(client, auth, "new@example.com")
    assert client.get(EDIT).status_code == 403


def test_the_account_page_leads_to_the_profile_and_the_public_page(client, designer):
    page = client.get("/account/").get_data(as_text=True)
    assert 'href="/designs/profile"' in page
    assert f'href="/designs/by/{designer}"' in page
    assert ">AL</span>" in page  # no picture yet: the initials


# --- the rules --------------------------------------------------------------------------------


def test_the_service_applies_the_rules_itself(app, ctx, make_user):
    designer_id = make_user("a@example.com", designer=True)
    member_id = make_user("b@example.com")
    with ctx():
        designer, member = db.session.get(User, designer_id), db.session.get(User, member_id)
        with pytest.raises(accounts.AccountError) as refused:
            accounts.update_designer_profile(member, "Hello", [])
        assert refused.value.status == 403
        with pytest.raises(accounts.AccountError, match="at most 3 links"):
            accounts.update_designer_profile(
                designer, "", [f"https://{n}.example.com" for n in "abcd"]
            )
        with pytest.raises(accounts.AccountError, match="https://"):
            accounts.update_designer_profile(designer, "", ["data:text/html,<script>"])
        with pytest.raises(accounts.AccountError, match="600"):
            accounts.update_designer_profile(designer, "é" * 601, [])
        accounts.update_designer_profile(
            designer, "  Hi\r\nthere  ", ["", " http://a.example.org "]
        )
        assert (designer.bio, designer.links) == ("Hi\nthere", ["http://a.example.org"])


def test_initials_and_link_labels():
    assert profiles.initials("Ada Lovelace") == "AL"
    assert profiles.initials("Katsushika H.") == "KH"
    assert profiles.initials("Jean de la Fontaine") == "JF"
    assert profiles.initials("chloé") == "C"
    assert profiles.initials("  ") == "?"
    assert profiles.link_label("https://www.example.com/shop/") == "example.com/shop"
    assert profiles.link_label("http://ada.example.org") == "ada.example.org"


# --- the public page --------------------------------------------------------------------------


def test_the_public_page_shows_the_designs_by_where_they_really_are(
    app, client, auth, make_user, make_design, make_campaign
):
    ada = make_user("artist@example.com", designer=True, name="Ada Lovelace")
    make_design(ada, title="Draft nobody sees", state=DesignState.DRAFT)
    make_design(ada, title="Declined one", state=DesignState.DECLINED)
    make_design(ada, title="Being scored", state=DesignState.VOTING)
    make_design(ada, title="On the list", state=DesignState.SHORTLISTED)
    live = make_campaign(state=CampaignState.LIVE, designer_id=ada)
    failed = make_campaign(state=CampaignState.FAILED, designer_id=ada)
    delivered = make_campaign(state=CampaignState.DELIVERED, designer_id=ada)
    making = make_campaign(state=CampaignState.IN_PRODUCTION, designer_id=ada)

    page = client.get(f"/designs/by/{ada}").get_data(as_text=True)

    assert "Draft nobody sees" not in page and "Declined one" not in page

    def section(anchor):
        return page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]

    produced = section("produced")
    assert "Produced" in produced and "(2)" in produced
    assert f'href="/campaigns/{delivered}"' in produced
    assert f'href="/campaigns/{making}"' in produced
    assert "delivered to backers" in produced and "in production" in produced
    assert f'href="/campaigns/{live}"' not in produced
    assert "Pre-order campaigns" in section("shelf-campaign")
    assert "campaign live" in section("shelf-campaign")
    assert "Being scored" in section("shelf-voting")
    assert "On the list" in section("shelf-selected")
    assert "campaign failed" in section("shelf-ended")
    assert f'href="/campaigns/{failed}"' not in section("shelf-campaign")
    # A visitor is not offered the designer's own links.
    assert "Edit my profile" not in page and 'href="/designs/mine"' not in page

    auth.login("artist@example.com")
    mine = client.get(f"/designs/by/{ada}").get_data(as_text=True)
    assert 'href="/designs/profile"' in mine and 'href="/designs/mine"' in mine
    assert "Draft nobody sees" not in mine  # the public page is the public's, for them too


def test_a_designer_with_nothing_published_has_an_empty_page(client, make_user, make_design):
    ada = make_user("artist@example.com", designer=True, name="Ada")
    make_design(ada, state=DesignState.SUBMITTED)
    page = client.get(f"/designs/by/{ada}").get_data(as_text=True)
    assert "No published designs yet." in page
    assert 'class="profile-shelf' not in page


def test_the_avatar_of_an_account_that_is_no_designer_is_not_served(app, client, ctx, make_user):
    member = make_user("m@example.com")
    key = images.store_avatar(io.BytesIO(png_bytes()), app.config["UPLOAD_DIR"])
    with ctx():
        db.session.execute(sa.update(User).where(User.id == member).values(avatar_key=key))
        db.session.commit()
    assert client.get(f"/designs/by/{member}/avatar/{key}/large").status_code == 404
    images.delete_avatar(app.config["UPLOAD_DIR"], key)
