"""The compare flow: two rankers on the same sampled queries, pairwise and pointwise.

The work and its bookkeeping in ``runs`` are the library's
(``monitor.pipeline.compare.run_compare``); this file makes it a Prefect flow, its runs
named "compare a~b <day>", its outcome in the run's logs.
"""

# No `from __future__ import annotations`: `serve` pickles this flow's function by
# value into each run's process, where its parameters' annotations must be real types.

import datetime as dt

from prefect import flow

from flows.reporting import log_compare
from monitor.config import load_settings
from monitor.pipeline.compare import CompareResult, ranker_source, run_compare
from monitor.pipeline.steps import check_day
from monitor.store.db import connect
from monitor.store.migrate import upgrade

__all__ = ["compare"]


@flow(name="compare", flow_run_name="compare {a}~{b} {day}", log_prints=False)
def compare(a: str, b: str, day: dt.date) -> CompareResult:
    """Judge rankers ``a`` and ``b`` on the same sampled queries of ``day``."""
    check_day(day)
    settings = load_settings()
    ranker_source(settings, a), ranker_source(settings, b)  # unknown names refused first
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        result = run_compare(database, settings, day, a, b)
        log_compare(result)
        return result
    finally:
        database.dispose()
