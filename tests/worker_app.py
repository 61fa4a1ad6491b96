"""The app as a worker process started by a test sees it: TestConfig plus the ports of the
test session's services, passed through the environment."""

import os

from config import TestConfig
from marketplace import create_app

app = create_app(
    TestConfig,
    SQLALCHEMY_DATABASE_URI=TestConfig.SQLALCHEMY_DATABASE_URI,
    REDIS_URL=os.environ["TEST_REDIS_URL"],
    RATELIMIT_STORAGE_URI=os.environ["TEST_REDIS_URL"],
    MAIL_PORT=int(os.environ["MAIL_PORT"]),
    # The test's localstripe, or a fault proxy in front of it, for workers that charge.
    STRIPE_API_BASE=os.environ.get("STRIPE_API_BASE") or None,
    # TestConfig's limit leaves the tests unthrottled; a test that wants the limit felt
    # sets its own.
    STRIPE_RATE_LIMIT=int(os.environ.get("STRIPE_RATE_LIMIT", TestConfig.STRIPE_RATE_LIMIT)),
)
