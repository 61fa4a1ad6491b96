"""Flask CLI commands: ``flask worker``, ``flask cron``, ``flask create-operator``,
``flask outbox ...``, ``flask campaigns close``, ``flask designs close-scoring``,
``flask kpis ...``. (The demo data is development code: ``python -m dev.demo``.)"""

from __future__ import annotations

import getpass
import logging
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from marketplace.accounts import services
from marketplace.kernel.extensions import db
from marketplace.kernel.queues import QUEUE_NAMES, make_worker, redis_connection
from marketplace.kernel.text import counted


def register_cli(app: Flask) -> None:
    app.cli.add_command(worker_command)
    app.cli.add_command(create_operator_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(cron_command)
    app.cli.add_command(campaigns_group)
    app.cli.add_command(designs_group)
    app.cli.add_command(kpis_group)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Also run RQ's scheduler (for delayed jobs and retries); one worker holds its lock.",
)
@click.option(
    "--no-fork",
    is_flag=True,
    help="Run each job in the worker process instead of a forked work-horse: about three "
    "times the charges per second on a settlement queue, at the price of the horse's "
    "isolation (a job that crashes the process takes the worker with it; run it under a "
    "supervisor that restarts it).",
)
@with_appcontext
def worker_command(
    queues: tuple[str, ...], burst: bool, with_scheduler: bool, no_fork: bool
) -> None:
    """Run an RQ worker on QUEUES (default: settlement, default, mail, in that order)."""
    from marketplace.kernel.jobs import sweep_outbox

    names = queues or QUEUE_NAMES
    unknown = set(names) - set(QUEUE_NAMES)
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Mail whose enqueue was lost while no worker (or no Redis) was up goes out now.
    requeued = sweep_outbox()
    if requeued:
        click.echo(f"re-enqueued {counted(requeued, 'outbox mail')} left behind")
    app = current_app._get_current_object()
    worker = make_worker(app, tuple(names), simple=no_fork)
    worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")


@click.command("create-operator")
@click.argument("email")
@click.option("--name", "display_name", help="Display name for a new account.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@with_appcontext
def create_operator_command(email: str, display_name: str | None, password_stdin: bool) -> None:
    """Give EMAIL the operator role, creating the account if it does not exist."""
    password = None
    if services.get_user_by_email(email) is None:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password for the new operator: ")
    try:
        user, created = services.make_operator(email, display_name, password)
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"{'Created' if created else 'Promoted'} operator {user.email} (id {user.id})")


outbox_group = AppGroup("outbox", help="Inspect and flush the mail outbox.")


@outbox_group.command("flush")
def outbox_flush() -> None:
    """Re-enqueue mail left pending or stuck in sending."""
    from marketplace.kernel.jobs import sweep_outbox

    click.echo(f"re-enqueued {counted(sweep_outbox(), 'mail')}")


campaigns_group = AppGroup("campaigns", help="Close campaigns and look at their settlement.")


@campaigns_group.command("close")
@click.argument("campaign_id", type=int)
def campaigns_close(campaign_id: int) -> None:
    """Close a live campaign now: funded (and settlement starts) or failed."""
    from .campaigns import services

    try:
        state = services.close_now(campaign_id, None)
    except services.CampaignError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"campaign {campaign_id}: {state.value}")


designs_group = AppGroup("designs", help="Act on designs outside their schedule.")


@designs_group.command("close-scoring")
@click.argument("design_id", type=int)
@click.option(
    "--reason",
    required=True,
    help="Why it closes early (10 to 500 characters; kept in the audit log, shown on the "
    "design's timeline).",
)
def designs_close_scoring(design_id: int, reason: str) -> None:
    """Close a design's scoring window now: its scores freeze and the shortlist bar applies,
    as when the window ends."""
    from designs import services

    try:
        design = services.close_scoring_now(design_id, None, reason)
    except services.DesignError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    outcome = design.state.value
    if design.decision_reason:
        outcome += f" ({design.decision_reason})"
    if services.missed_only_votes(design):
        outcome += "; its score met the bar: an operator can still shortlist it"
    click.echo(f"design {design_id}: {outcome}")


def cron_jobs():
    """(function, queue, seconds between runs) for ``flask cron``."""
    from designs.jobs import close_due_windows
    from marketplace.campaigns.jobs import sweep_due_campaigns
    from marketplace.kernel.jobs import sweep_outbox
    from marketplace.kpis.jobs import roll_up_kpis
    from marketplace.production.jobs import sweep_surveys
    from marketplace.recognition.jobs import sweep_thanks
    from marketplace.redesigns.jobs import close_due_challenges
    from marketplace.reviews.jobs import sweep_rating_requests
    from payments.jobs import sweep_orphan_intents, sweep_settlements

    return [
        (close_due_windows, "default", 60),
        (sweep_due_campaigns, "settlement", 60),
        (sweep_settlements, "settlement", 60),
        (sweep_orphan_intents, "settlement", 900),
        (sweep_surveys, "default", 3600),
        (close_due_challenges, "default", 300),
        (sweep_rating_requests, "default", 3600),
        (sweep_thanks, "default", 3600),
        (sweep_outbox, "mail", 300),
        (roll_up_kpis, "default", 900),
    ]


def make_cron(app: Flask):
    """RQ's cron scheduler with every periodic sweep of ``cron_jobs``.

    The sweeps only catch what a lost job left behind (a scheduled close lost with Redis, a
    mail whose enqueue failed), and each is safe to run twice, so a second ``flask cron``
    during a deploy does no harm.
    """
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_connection(app), name="cocrea-cron")
    for func, queue_name, interval in cron_jobs():
        scheduler.register(func, queue_name, interval=interval)
    return scheduler


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Enqueue the periodic sweeps on schedule (run one per deployment, beside the workers)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    make_cron(current_app._get_current_object()).start()


kpis_group = AppGroup("kpis", help="The KPI dashboard's daily rollups.")


@kpis_group.command("roll-up")
def kpis_roll_up_command() -> None:
    """Rewrite the recent days now (what ``flask cron`` does every 15 minutes)."""
    from marketplace.kpis.jobs import roll_up_kpis

    click.echo(roll_up_kpis())


@kpis_group.command("rebuild")
def kpis_rebuild_command() -> None:
    """Rewrite every day from the first one (after a change of definition, or a restore)."""
    from marketplace.kpis import rollup

    days = rollup.rebuild()
    db.session.commit()
    click.echo("nothing to roll up yet" if days is None else f"rebuilt {days[0]} to {days[1]}")
