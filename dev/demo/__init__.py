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
    echo(seed_kpis())
    echo("Demo accounts (password for all: " + DEMO_PASSWORD + "):")
    for role, email in accounts:
        echo(f"  {role:<10} {email}")


def seed_kpis() -> str:
    """The dashboard's rollups (as ``flask cron`` would keep them), and one target the demo's
    ratings miss, so that the console's home shows a target off track."""
    import sqlalchemy as sa

    from marketplace.accounts.models import User
    from marketplace.kpis import rollup, targets

    days = rollup.rebuild()
    if not targets.all_targets():
        operator = db.session.scalar(sa.select(User).where(User.is_operator).order_by(User.id))
        targets.set_target("satisfaction", "at_least", 400, actor=operator)
    db.session.commit()
    return "KPI rollups: nothing yet" if days is None else f"KPI rollups: {days[0]} to {days[1]}"


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo data; running it again changes nothing."""
    seed_all()
