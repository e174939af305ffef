"""Prefect flows: orchestration only. Each flow sequences steps from ``monitor``.

- ``daily``: source → sample → judge → store → metrics → push, for one day.
- ``backfill``: ``daily`` for each day of a range, resumable.
- ``calibrate``: judges against human labels.
- ``compare``: two rankers, pairwise and pointwise.
"""
