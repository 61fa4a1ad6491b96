"""Demo data for ``make run``: idempotent, so loading it twice changes nothing.

``python -m dev.demo`` loads it into the configured database (``make run`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from marketplace.kernel.extensions import db


def seeders() -> list[tuple[str, Callable[[], int]]]:
    """(what, function) in pipeline order: each builds on what the one before made."""
    from .campaigns import seed_campaigns
    from .designs import seed_designs
    from .feedback import seed_ratings
    from .production import seed_production
    from .profiles import seed_designer_profiles

    return [
        ("designer profiles", seed_designer_profiles),
        ("designs", seed_designs),
        ("campaigns", seed_campaigns),
        ("production runs", seed_production),
        ("ratings", seed_ratings),
    ]


def seed_all(echo: Callable[[str], None] = click.echo) -> None:
    """Load everything, committing after each step (inside an app context)."""
    from .accounts import DEMO_PASSWORD, seed_accounts

    accounts = seed_accounts()
    db.session.commit()
    for name, seeder in seeders():
        created = seeder()
        db.session.commit()
        echo(f"{name}: {created} created" if created else f"{name}: already there")
    echo("Demo accounts (password for all: " + DEMO_PASSWORD + "):")
    for role, email in accounts:
        echo(f"  {role:<10} {email}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo data; running it again changes nothing."""
    seed_all()
