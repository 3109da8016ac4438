"""Suite-wide settings.

Under CI (``CI`` set, as the CI runner does) Hypothesis runs derandomized: the same examples every
run, so a landing never depends on a lucky draw. Locally every run draws new examples and keeps
exploring; a failure it finds is saved in ``.hypothesis/`` and replayed first next time.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# The suite-wide secret scan (no key, secret, password or token in any log, answer or output).
pytest_plugins = ["tests.secret_scan"]

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# Under CI a skip may only mean what no install step can change: a platform without a wheel, or a
# package index that cannot be reached. Any other skip (a missing mosquitto, Chromium, newman or a dev
# package) means ./run failed to install something, and fails the run instead of hiding it.
_CI_SKIPS_ALLOWED = ("no wheel for this platform", "package index pip is configured with is unreachable")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    if not os.environ.get("CI") or call.excinfo is None or not call.excinfo.errisinstance(pytest.skip.Exception):
        return None
    reason = str(call.excinfo.value)
    if any(allowed in reason for allowed in _CI_SKIPS_ALLOWED):
        return None
    report = pytest.TestReport.from_item_and_call(item, call)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI, which means an install step is missing: {reason}"
    return report


# What ./run installs for the suite; module-level skips happen at collection, so they are checked here.
_CI_MODULES = ("tuya_sharing", "segno", "gmqtt", "aiomqtt", "playwright", "keyring", "tinytuya", "tuya_connector")
_CI_PROGRAMS = ("mosquitto", "chromium", "strace")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("CI"):
        return
    import importlib.util
    import shutil

    missing = [m for m in _CI_MODULES if importlib.util.find_spec(m) is None]
    missing += [p for p in _CI_PROGRAMS if shutil.which(p) is None and not os.path.exists(f"/usr/sbin/{p}")]
    if missing:
        raise pytest.UsageError(f"CI without {', '.join(missing)}: ./run did not install them")
