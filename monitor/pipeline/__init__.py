"""The steps of a day over a database, without Prefect: ``flows/`` wraps them as tasks.

``day`` (source → sample → judge → store → metrics, and ``run_day``, the one sequence
the daily flow, backfill and the benchmarks call), ``metrics_step`` (the day's figures
from stored verdicts), ``compare`` (two rankers on the same queries), ``calibrate``
(judges against a human-labelled set).
"""
