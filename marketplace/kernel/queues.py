"""RQ on Redis: the connection, the queues, enqueue-after-commit and the worker class.

Job functions take ids, never ORM objects, and are enqueued only once the transaction that
wrote their rows has committed; otherwise a fast worker could look for a row that does not
exist yet, or act on a change that is then rolled back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from flask_sqlalchemy.session import Session as FlaskSession
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from rq import Queue, SimpleWorker, Worker
from sqlalchemy import event

from . import signals
from .extensions import db

log = logging.getLogger(__name__)

#: Worker priority order: money first, then everything else, then mail.
QUEUE_NAMES = ("settlement", "default", "mail")
_PENDING_JOBS = "marketplace.pending_jobs"


def redis_connection(app: Flask | None = None) -> Redis:
    """One client (and connection pool) per app; redis-py's pool is thread-safe and notices
    a fork, so web threads and worker horses can share the object."""
    app = app or current_app
    conn = app.extensions.get("redis")
    if conn is None:
        conn = make_redis(app.config["REDIS_URL"])
        app.extensions["redis"] = conn
    return conn


def make_redis(url: str) -> Redis:
    """A client that gives up quickly: with Redis down, a page that only uses it as a cache
    must stay fast, and redis-py's default retries with backoff would hold it for seconds."""
    return Redis.from_url(
        url,
        socket_timeout=5,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
    )


def get_queue(name: str, app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
    app = app or current_app
    return Queue(
        name,
        connection=redis_connection(app),
        default_timeout=app.config["RQ_DEFAULT_TIMEOUT"],
    )


def enqueue_after_commit(
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    at: dt.datetime | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue ``func(*args)`` on ``queue_name`` once the current transaction commits; with
    ``at``, schedule it for that time instead (RQ's scheduler runs in the workers).

    If the transaction rolls back, the job is forgotten with it. Keyword arguments are RQ's
    (``job_id``, ``retry``, ``job_timeout``...).
    """
    if queue_name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue_name!r}")
    # Begin the transaction now if nothing has yet: a rollback of a session that never began
    # one fires no event, and the job would survive into the next commit.
    db.session.connection()
    kwargs["_at"] = at
    db.session.info.setdefault(_PENDING_JOBS, []).append((queue_name, func, args, kwargs))


@event.listens_for(FlaskSession, "after_commit")
def _enqueue_pending_jobs(session: FlaskSession) -> None:
    pending = session.info.pop(_PENDING_JOBS, [])
    for queue_name, func, args, kwargs in pending:
        at = kwargs.pop("_at")
        try:
            queue = get_queue(queue_name)
            if at is None:
                queue.enqueue(func, *args, **kwargs)
            else:
                queue.enqueue_at(at, func, *args, **kwargs)
        except Exception:
            # The rows are committed; a lost enqueue is caught later by the sweeps that look
            # for work left behind (the outbox sweep, settlement reconcilers), so the request
            # that made the change must not fail because of it.
            log.exception("could not enqueue %s%r on %s after commit", func, args, queue_name)


@event.listens_for(FlaskSession, "after_soft_rollback")
def _forget_pending_jobs(session: FlaskSession, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_JOBS, None)


class _AppContextJobs:
    """Run every job in an app context of its own, with its own database session."""

    flask_app: Flask

    def perform_job(self, *args: Any, **kwargs: Any) -> bool:
        with self.flask_app.app_context():
            try:
                return super().perform_job(*args, **kwargs)  # type: ignore[misc]
            finally:
                db.session.remove()


class AppWorker(_AppContextJobs, Worker):
    """The production worker: forks a horse per job, so a crash or a memory leak in one job
    cannot take the worker down."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        warm_up(self.flask_app)
        return super().work(*args, **kwargs)

    def main_work_horse(self, *args: Any, **kwargs: Any) -> None:
        # Connections inherited across fork() are the parent's sockets: the child must open
        # its own instead of closing (and so breaking) the parent's.
        with self.flask_app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(*args, **kwargs)


def warm_up(app: Flask) -> None:
    """Do once, before any fork, what every horse would otherwise redo and lose when it
    exits: configure the ORM's mappers, let packages preload (``worker_warming_up``: the
    Stripe library's lazy imports), compile the mail templates; then ``gc.freeze()``, so that a
    horse's garbage collector does not walk (and so copy, page by page) every object the
    worker holds. ``make bench``'s settlement bench: about a third less CPU per charge."""
    import gc

    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    with app.app_context():
        signals.worker_warming_up.send(app)
    for name in app.jinja_env.list_templates(filter_func=lambda n: n.startswith("mail/")):
        app.jinja_env.get_template(name)
    gc.collect()
    gc.freeze()


class AppSimpleWorker(_AppContextJobs, SimpleWorker):
    """Runs jobs in the calling process: used by tests' burst helper."""


def make_worker(
    app: Flask, queue_names: tuple[str, ...] = QUEUE_NAMES, *, simple: bool = False
) -> Worker:
    cls = AppSimpleWorker if simple else AppWorker
    worker = cls([get_queue(name, app) for name in queue_names], connection=redis_connection(app))
    worker.flask_app = app
    return worker
