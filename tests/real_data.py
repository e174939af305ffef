"""Where the real, human-labelled TREC DL19 data is, for the tests that need it.

The data (MS MARCO passages under research-only terms) never ships with the repository:
``make data`` downloads it, and ``JUDGE_MONITOR_TREC_DL19`` names the folder. Tests that
need it carry ``@pytest.mark.dl19``; ``tests/conftest.py`` skips them with one reason
when the setting is unset, and fails them instead under ``CI=true``, where the data must
be there (CI's ``.ci/run`` sets the variable), so a green CI always ran them.

The variable is read at import, before the ``clean_environ`` fixture drops every
``JUDGE_MONITOR_*`` setting from each test's environment.
"""

from __future__ import annotations

import os
from pathlib import Path

DL19_ENV = "JUDGE_MONITOR_TREC_DL19"
QRELS = "qrels.dl19-passage.txt"

_raw = os.environ.get(DL19_ENV, "").strip()
DL19: Path = Path(_raw).expanduser().resolve() if _raw else Path("/nonexistent/trec-dl19")
"""The data folder (a path that does not exist when the setting is unset)."""


def dl19_problem() -> str | None:
    """Why the DL19 tests cannot run here, or None when the data is in place."""
    if not _raw:
        return f"TREC DL19 data not found: run `make data` or set {DL19_ENV} to its folder"
    if not (DL19 / QRELS).is_file():
        return f"{DL19_ENV}={_raw}: no {QRELS} there (run `make data` to download it)"
    return None
