"""Suite-wide settings.

Under CI (``CI`` set, as the CI runner does) Hypothesis runs derandomized: the same examples every
run, so a landing never depends on a lucky draw. Locally every run draws new examples and keeps
exploring; a failure it finds is saved in ``.hypothesis/`` and replayed first next time.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
