"""``python -m dev.demo``: load the demo data into the database the environment configures."""

import faulthandler
import sys

from dev.demo import seed_all
from marketplace import create_app

# Seeding takes seconds. Should it ever hang (a service that stops answering), say where,
# rather than leave `make run` silent: every thread's stack, then exit.
faulthandler.dump_traceback_later(120, exit=True, file=sys.stderr)

with create_app().app_context():
    seed_all()
