"""``python -m dev.demo``: load the demo data into the database the environment configures."""

from dev.demo import seed_all
from marketplace import create_app

with create_app().app_context():
    seed_all()
