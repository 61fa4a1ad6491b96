"""Alembic environment, run through Flask-Migrate (``flask db ...``) inside the app."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from marketplace.kernel.dbtypes import UTCDateTime

config = context.config
if config.config_file_name:
    # Keep the app's (and pytest's) loggers alive: the stock call disables them.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")
db = current_app.extensions["migrate"].db


#: Indexes on expressions, or PostgreSQL-only ones made when an extension allows (the titles'
#: trigram index), written by hand in their migration: autogenerate cannot compare them, and
#: must not propose to drop them.
EXPRESSION_INDEXES = {"ix_designs_rank_score_id", "ix_designs_title_trgm"}


def include_name(name, type_, parent_names):
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def include_object(obj, name, type_, reflected, compare_to):
    return include_name(name, type_, None)


def render_item(type_, obj, autogen_context):
    """Write our column types as the plain SQL types they store, so migrations never
    import application code that may change after them."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations_offline():
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=db.metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("include_name", include_name)
    conf_args.setdefault("include_object", include_object)
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_item=render_item,
            **conf_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
