"""Helpers shared by tests (and by bench/, which seeds and logs in the way tests do): the one
definition of each, imported from here rather than from a conftest module or another test
file, so that a fixture module, a test and a benchmark never carry diverging copies."""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import secrets
import struct
import zlib
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from config import TestConfig

ROOT = Path(__file__).resolve().parent.parent

#: Rows the migrations insert (the launch products): kept when tables are emptied, as a fresh
#: deployment has them.
REFERENCE_TABLES = ("products",)


def needs_postgresql(what: str):
    """Skips the test on SQLite: ``what`` needs PostgreSQL."""
    return pytest.mark.skipif(
        not (TestConfig.SQLALCHEMY_DATABASE_URI or "").startswith("postgresql"),
        reason=f"{what} PostgreSQL: run with TEST_DATABASE_URL (CI does)",
    )


# --- queries ----------------------------------------------------------------------------------


@contextlib.contextmanager
def count_queries(app):
    """The SQL statements run while the block runs (transaction control left out)."""
    from marketplace.kernel.extensions import db, statement_sent

    with app.app_context():
        engine = db.engine
    statements = []

    def before(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            statements.append(statement)

    def on_driver(statement, connection):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    # And what runs straight on the driver, which the engine's events do not see.
    statement_sent.connect(on_driver)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        statement_sent.disconnect(on_driver)


# --- images and files -------------------------------------------------------------------------


def png_bytes(width: int = 64, height: int = 64, colour=(200, 60, 90, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def bomb_png(width: int, height: int) -> bytes:
    """A genuine 1-bit PNG of width × height black pixels, compressed to a few KB.

    Built row by row with a streaming compressor, so the test never holds the pixels.
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int, height: int, **params) -> bytes:
    """A JPEG of a smooth gradient: a picture with content down to its last rows."""
    base = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base))
    buf = io.BytesIO()
    image.save(buf, "JPEG", **params)
    return buf.getvalue()


def with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0/SOF2) rewritten to claim width × height:
    the data still carries only the pixels it had, as in a crafted or damaged file."""
    at = 2  # after SOI, walk the marker segments: <FF xx> <length> <payload>
    while jpeg[at] == 0xFF:
        marker, length = jpeg[at + 1], struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC2):  # length, precision, then height and width
            return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]
        at += 2 + length
    raise ValueError("no frame header found")


def cut_and_closed(jpeg: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of a JPEG, closed with an end-of-image marker as if complete."""
    return jpeg[: int(len(jpeg) * fraction)] + b"\xff\xd9"


def multipart(
    fields: dict, upload: tuple[bytes, str] | None, name: str = "artwork"
) -> tuple[bytes, str]:
    """A form with one file (``upload``: its bytes and filename, posted as ``name``), encoded
    in memory: Werkzeug's test client spools bodies over 500 KB to a temporary file that it
    never closes, which the suite's warnings-as-errors would catch."""
    boundary = "----cocrea-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    if upload is not None:
        content, filename = upload
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def files_under(path: str | os.PathLike) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in names]


# --- accounts and forms -----------------------------------------------------------------------

#: The password of every account ``make_user`` creates unless told otherwise.
PASSWORD = "correct horse battery"

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_in(html: str) -> str | None:
    """The CSRF token of a rendered form, or None when the page has no form."""
    found = CSRF_RE.search(html)
    return found.group(1) if found else None


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form served at ``path``, as a browser would have it."""
    token = csrf_in(client.get(path).get_data(as_text=True))
    assert token, f"no CSRF token in {path}"
    return token


def post(client, path, page, **data):
    """Post ``data`` to ``path`` with the CSRF token of the form served at ``page``."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        token = csrf_token(self.client, "/account/login")
        return self.client.post(
            "/account/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token(self.client, "/account/")
        return self.client.post("/account/logout", data={"csrf_token": token})


def login_as(client, auth, email):
    """Log in as someone else: a logged-in client is sent away from the login page."""
    for cookie in list(client._cookies):
        client.delete_cookie(cookie[2], domain=cookie[0], path=cookie[1])
    auth.login(email)


# --- campaigns --------------------------------------------------------------------------------


def campaign_terms(price: int) -> dict:
    """A campaign's money columns for a unit price: what tests and the settlement bench
    both give a campaign, so that both settle the same split."""
    return {
        "unit_price_cents": price,
        "currency": "EUR",
        "production_cost_cents": price - 500,
        "royalty_cents": 300,
        "platform_cents": 200,
    }


def variant_id(ctx, campaign_id: int, label: str) -> int:
    from marketplace.campaigns.models import CampaignVariant
    from marketplace.kernel.extensions import db

    with ctx():
        return db.session.scalar(
            sa.select(CampaignVariant.id).where(
                CampaignVariant.campaign_id == campaign_id, CampaignVariant.label == label
            )
        )


# --- cards in localstripe ---------------------------------------------------------------------

CARDS = {
    "visa": "4242424242424242",
    "declined_at_setup": "4000000000000002",
    "needs_authentication": "4000002500003155",
}

#: Cards whose trouble shows only when charged (localstripe's test numbers).
CHARGE_CARDS = {
    "visa": "4242424242424242",
    "declined_at_charge": "4000000000000341",
    "needs_authentication": "4000002500003155",
}


def card_method(client, number: str):
    """A card PaymentMethod created in Stripe through ``client`` (a ``StripeClient``)."""
    return client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )


def card_summary(number: str) -> str:
    return f"Visa •••• {number[-4:]}"


def browser_confirms(ctx, setup_intent_id: str, card: str = "visa") -> str:
    """What Stripe.js does in the browser: create the card's PaymentMethod and confirm the
    SetupIntent with it, against the same localstripe. Returns the resulting status."""
    with ctx():
        return _confirm(setup_intent_id, card)


def _confirm(setup_intent_id: str, card: str) -> str:
    from payments import gateway

    pm = card_method(gateway.client(), CARDS[card])
    try:
        si = gateway.client().v1.setup_intents.confirm(
            setup_intent_id, params={"payment_method": pm.id}
        )
    except Exception as exc:  # noqa: BLE001 (a declined card is an error answer)
        return f"error: {exc}"
    return si.status


def saved_card(user_id: int, card: str = "visa") -> tuple[str, str]:
    """What a pledge's SetupIntent leaves behind: the backer's Customer and a card
    PaymentMethod attached to it. Call inside an app context."""
    from marketplace.accounts.models import User
    from marketplace.kernel.extensions import db
    from payments import gateway
    from payments.customers import customer_for

    customer_id = customer_for(db.session.get(User, user_id))
    pm = card_method(gateway.client(), CHARGE_CARDS[card])
    gateway.client().v1.payment_methods.attach(pm.id, params={"customer": customer_id})
    return customer_id, pm.id


def pledge_row(campaign, variant, backer_id: int, quantity: int, zone: str = "domestic", **columns):
    """A new Pledge of ``quantity`` units of ``variant``, at the campaign's price plus its
    shipping to ``zone``; ``columns`` gives its state, idempotency key and card."""
    from marketplace.campaigns.models import Pledge

    shipping = campaign.shipping_cents(zone)
    return Pledge(
        campaign_id=campaign.id,
        backer_id=backer_id,
        variant_id=variant.id,
        quantity=quantity,
        amount_cents=campaign.unit_price_cents * quantity + shipping,
        shipping_zone=zone,
        shipping_cents=shipping,
        currency=campaign.currency,
        **columns,
    )


def add_pledges(ctx, campaign_id: int, specs) -> list[int]:
    """Active pledges with saved cards, as if backers had pledged: ``specs`` is a list of
    (backer id, variant label, quantity, card[, shipping zone]). Returns the pledge ids."""
    from marketplace.campaigns.models import Campaign, PledgeState
    from marketplace.kernel.extensions import db

    ids = []
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        for backer_id, label, quantity, card, *zone in specs:
            _, pm_id = saved_card(backer_id, card)
            variant = next(v for v in campaign.variants if v.label == label)
            variant.reserved_units += quantity
            pledge = pledge_row(
                campaign,
                variant,
                backer_id,
                quantity,
                *zone,
                state=PledgeState.ACTIVE,
                idempotency_key=secrets.token_urlsafe(24),
                payment_method_id=pm_id,
                card_summary=card_summary(CHARGE_CARDS[card]),
            )
            db.session.add(pledge)
            db.session.flush()
            ids.append(pledge.id)
        db.session.commit()
    return ids


def made_campaign(ctx, campaign_id: int, backer_ids, operator_id: int, royalty_cents: int) -> int:
    """Make a delivered (or shipped) campaign's products, as if its run had gone through: one
    paid pledge and delivered order per backer, a run in the campaign's state and the
    designer's royalty in the ledger. Returns the run's id."""
    import datetime as dt

    from marketplace.campaigns.models import Campaign, PledgeState
    from marketplace.kernel.dbtypes import utcnow
    from marketplace.kernel.extensions import db
    from marketplace.production.models import Order, OrderState, ProductionRun, RunState
    from payments.models import LedgerEntry, LedgerKind

    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        run = ProductionRun(
            campaign_id=campaign.id,
            state=RunState(campaign.state.value),
            manufacturer="Atelier Lyon",
            reference=f"Q-{campaign.id}",
            expected_ship_date=(utcnow() - dt.timedelta(days=10)).date(),
            created_by_id=operator_id,
        )
        db.session.add(run)
        db.session.flush()
        for backer_id in backer_ids:
            pledge = pledge_row(
                campaign,
                campaign.variants[0],
                backer_id,
                1,
                state=PledgeState.COLLECTED,
                idempotency_key=secrets.token_urlsafe(24),
            )
            db.session.add(pledge)
            db.session.flush()
            db.session.add(Order(run_id=run.id, pledge_id=pledge.id, state=OrderState.DELIVERED))
        db.session.add(
            LedgerEntry(
                designer_id=campaign.design.designer_id,
                kind=LedgerKind.ROYALTY,
                amount_cents=royalty_cents,
                currency=campaign.currency,
                campaign_id=campaign.id,
                run_id=run.id,
                note="Royalty",
            )
        )
        db.session.commit()
        return run.id


def close_and_settle(ctx, run_jobs, campaign_id: int) -> None:
    """The deadline passing: the campaign closes now, and the settlement jobs charge it."""
    from marketplace.campaigns import services as campaigns
    from marketplace.kernel.extensions import db

    with ctx():
        campaigns.close_now(campaign_id, None)
        db.session.commit()
    run_jobs(("settlement",))


def succeeded_intents() -> dict[str, list]:
    """Stripe's succeeded PaymentIntents, by the pledge id in their metadata."""
    from payments import gateway

    found: dict[str, list] = {}
    for pi in gateway.client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        if pi.status == "succeeded":
            found.setdefault(pi.metadata["pledge_id"], []).append(pi)
    return found


def authenticate(ctx, payment_intent_id: str, success: bool = True) -> None:
    """What localstripe's Stripe.js does when the backer passes (or fails) 3-D Secure."""
    from payments import gateway

    with ctx():
        pi = gateway.client().v1.payment_intents.retrieve(payment_intent_id)
        gateway.client().raw_request(
            "post",
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            client_secret=pi.client_secret,
            success="true" if success else "false",
        )


# --- in the browser ---------------------------------------------------------------------------


def login(page, base, email):
    page.goto(base + "/account/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Members land on the home page, operators on the console.
    page.wait_for_url(lambda url: url in (base + "/", base + "/operator/"))


def logout(page):
    page.get_by_role("button", name="Log out", exact=True).click()


def save_design_draft(page, base, artwork, title, description, tags):
    """The designer's new-design form filled in for a T-shirt in S, M, L and saved as a draft."""
    page.goto(base + "/designs/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(description)
    page.get_by_label("Product").select_option(label="T-shirt")
    page.get_by_label("Variants you propose").fill("S, M, L")
    page.get_by_label("Tags").fill(tags)
    page.get_by_label("Artwork").set_input_files(str(artwork))
    page.get_by_role("button", name="Save draft").click()


def save_card(page, number="4242 4242 4242 4242", button="Save card"):
    field = page.locator("#card-element")
    field.get_by_placeholder("number").press_sequentially(number)
    field.get_by_placeholder("exp_month").fill("12")
    field.get_by_placeholder("exp_year").fill("34")
    field.get_by_placeholder("cvc").fill("123")
    field.get_by_placeholder("postal_code").fill("69001")
    page.get_by_role("button", name=button).click()


# --- the product's source ---------------------------------------------------------------------

#: What ``pyproject.toml`` ships: packages and single modules.
SHIPPED = ("marketplace", "designs", "payments", "config.py", "wsgi.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def product_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module the product ships."""
    files = {}
    for entry in SHIPPED:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            files[_module_name(file)] = file
    return files


def imported_names(source: str, package: str) -> list[tuple[str, int]]:
    """(dotted name, line) of every import in ``source``, wherever it stands; relative
    imports resolved against ``package``."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                source_module = ".".join(base + ([node.module] if node.module else []))
            else:
                source_module = node.module
            names += [(f"{source_module}.{alias.name}", node.lineno) for alias in node.names]
    return names
