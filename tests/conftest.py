"""The test harness: real PostgreSQL or SQLite, real Redis, a real SMTP server on loopback,
a real localstripe server, and Debian's Chromium driven by Playwright.

Each test runs inside a transaction that is rolled back at the end (the schema is migrated
once per session). Tests marked ``live_db`` commit for real, because another thread (the
browser tests' server) or process (a worker) must see their rows; their tables are emptied
afterwards.

The fixtures live in ``tests/fixtures/``; pytest reads ``pytest_plugins`` only in the
rootdir's conftest, so they are all registered here. Helpers a test calls are in
``tests/helpers.py``.
"""

from __future__ import annotations

import os
import re
import shutil

from config import TestConfig

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.app",
    "tests.fixtures.factories",
    "tests.fixtures.payments",
    "tests.fixtures.browser",
    "tests.fixtures.routes",
]


def pytest_report_header(config):
    # Imported here: a plugin imported before pytest registers it escapes assertion rewriting.
    from tests.fixtures.browser import CHROMIUM

    url = TestConfig.SQLALCHEMY_DATABASE_URI or "SQLite (temporary file)"
    chromium = "present" if shutil.which("chromium") or os.path.exists(CHROMIUM) else "absent"
    return [f"database: {re.sub(r'//[^@]*@', '//***@', url)}", f"chromium: {chromium}"]
