"""The kept judgment pool (``store.pool``) is the pool read from the stored grades, always.

Each test compares the kept pool's answer (``pooled_grades`` when ``serves_day``, or
``serves_as_of`` for a day with later days folded) with the same read from the ensemble
grades (the path a day takes while a stored day before it is not folded), on real
PostgreSQL: after a rerun changed a day's grades, after days folded out of order, for
every earlier day of a history, and after retention dropped a month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pool_seed import store_lists
from sqlalchemy import text

from monitor.store import partitions, pool, pool_reads
from monitor.store.db import Database

JAN, FEB, MAR = dt.date(2026, 1, 20), dt.date(2026, 2, 10), dt.date(2026, 3, 5)


Grades = dict[int, tuple[float, ...]]


def _kept_then_read(
    database: Database, day: dt.date, served: Callable[..., bool]
) -> tuple[Grades, Grades]:
    """``day``'s pooled grades while ``served`` (a path of the kept pool) holds, then with
    the day's fold undone (rolled back), which sends the read to the ensemble grades."""
    with database.engine.connect() as conn:
        assert served(conn, day=day)
        kept = pool_reads.pooled_grades(conn, day=day)
        conn.execute(text("DELETE FROM pool_folds WHERE sample_date = :d"), {"d": day})
        assert not served(conn, day=day) and not pool.serves_as_of(conn, day=day)
        read = pool_reads.pooled_grades(conn, day=day)
        conn.rollback()
    return kept, read


def _both_reads(
    database: Database, day: dt.date
) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """(the kept pool's answer, the answer read from the ensemble grades) for ``day``."""
    with database.engine.begin() as conn:
        pool.fold_through(conn, day=day)
    kept, read = _kept_then_read(database, day, pool.serves_day)

    def rounded(p: dict[int, tuple[float, ...]]) -> dict[int, list[float]]:
        return {k: sorted(round(g, 9) for g in v) for k, v in p.items()}

    return rounded(kept), rounded(read)


def test_the_kept_pool_is_the_stored_pool_day_after_day(database: Database) -> None:
    """Three days of the same queries, results coming and going: the kept pool gives each
    day the mean grade of every result judged for its query up to that day."""
    store_lists(database, JAN, {"a": [("r1", 3.0), ("r2", 1.0)], "b": [("r1", 0.0)]})
    store_lists(database, FEB, {"a": [("r1", 2.0), ("r3", 2.0)], "b": [("r4", 1.0)]})
    store_lists(database, MAR, {"a": [("r3", 0.0)], "c": [("r5", 3.0)]})
    for day in (JAN, FEB, MAR):
        kept, read = _both_reads(database, day)
        assert kept == read and kept
    kept, _ = _both_reads(database, MAR)
    # a: r1 (3 + 2) / 2, r2 1, r3 (2 + 0) / 2; c: r5 3
    assert sorted(kept.values()) == [[1.0, 1.0, 2.5], [3.0]]


def test_a_rerun_that_changed_the_day_replaces_its_part(database: Database) -> None:
    """The day's grades change (a valid answer replaced an invalid one): folding the day
    again takes its old part out, so nothing is counted twice."""
    store_lists(database, JAN, {"a": [("r1", 3.0)]})
    store_lists(database, FEB, {"a": [("r1", 1.0), ("r2", 0.0)]})
    _both_reads(database, FEB)
    store_lists(database, FEB, {"a": [("r1", 2.0), ("r2", 2.0)]})  # the rerun's grades
    kept, read = _both_reads(database, FEB)
    assert kept == read == {next(iter(kept)): [2.0, 2.5]}
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT sum(n) FROM query_pool")).scalar_one() == 3


Pools = list[list[float]]


def _as_of_and_read(database: Database, day: dt.date) -> tuple[Pools, Pools]:
    """(the kept pool minus the later days' parts, the ensemble grades' answer) for ``day``,
    a day with later days folded."""
    with database.engine.connect() as conn:
        assert not pool.serves_day(conn, day=day)
    kept, read = _kept_then_read(database, day, pool.serves_as_of)
    return (
        sorted(sorted(round(g, 9) for g in v) for v in kept.values()),
        sorted(sorted(round(g, 9) for g in v) for v in read.values()),
    )


def test_an_earlier_day_is_the_kept_pool_minus_the_later_days(database: Database) -> None:
    """A label window's earlier days (or ``plan --labels``, or a day recomputed) after
    March was folded: each reads the kept pool less what the days after it added, which
    is what the grades up to it say, results that came later left out."""
    store_lists(database, JAN, {"a": [("r1", 3.0), ("r2", 1.0)], "b": [("r1", 0.0)]})
    store_lists(database, FEB, {"a": [("r1", 2.0), ("r3", 2.0)], "b": [("r4", 1.0)]})
    store_lists(database, MAR, {"a": [("r3", 0.0), ("r1", 1.0)], "b": [("r4", 3.0)]})
    _both_reads(database, MAR)
    kept, read = _as_of_and_read(database, JAN)
    assert kept == read == [[0.0], [1.0, 3.0]]
    kept, read = _as_of_and_read(database, FEB)
    # a: r1 (3 + 2) / 2, r2 1, r3 2; b: r1 0, r4 1
    assert kept == read == [[0.0, 1.0], [1.0, 2.0, 2.5]]


def test_a_day_backfilled_after_later_days_is_the_kept_pool_minus_them(database: Database) -> None:
    """Recomputing January after March was folded: January folds, and reads the kept pool
    less March's part; while it is not folded it reads the grades; March's kept pool then
    has all three days."""
    store_lists(database, MAR, {"a": [("r1", 3.0)]})
    _both_reads(database, MAR)
    store_lists(database, JAN, {"a": [("r2", 1.0)]})
    with database.engine.connect() as conn:
        assert not pool.serves_as_of(conn, day=JAN)
        assert sorted(next(iter(pool_reads.pooled_grades(conn, day=JAN).values()))) == [1.0]
    with database.engine.begin() as conn:
        assert pool.fold_through(conn, day=JAN) == [JAN]
    kept, read = _as_of_and_read(database, JAN)
    assert kept == read == [[1.0]]
    store_lists(database, FEB, {"a": [("r3", 2.0)]})
    kept, read = _both_reads(database, MAR)
    assert kept == read and list(kept.values()) == [[1.0, 2.0, 3.0]]


def test_pruning_a_month_keeps_its_grades_in_the_kept_pool(database: Database) -> None:
    """Retention drops January, its ``pool_days`` partition with it: the pooled ideal
    still remembers January's judgments, so the next day's nDCG does not move."""
    store_lists(database, JAN, {"a": [("r1", 3.0), ("r2", 3.0)]})
    store_lists(database, FEB, {"a": [("r1", 1.0)]})
    before, _ = _both_reads(database, FEB)
    report = partitions.prune(database, cutoff=dt.date(2026, 2, 1), cache=False)
    assert "pool_days_y2026m01" in {p.name for p in report.partitions}
    store_lists(database, MAR, {"a": [("r3", 0.0)]})
    with database.engine.begin() as conn:
        pool.fold_through(conn, day=MAR)
    with database.engine.connect() as conn:
        kept = pool_reads.pooled_grades(conn, day=MAR)
        left = conn.execute(text("SELECT min(sample_date) FROM pool_days")).scalar_one()
    # a: r1 (3 + 1) / 2 and r2 3 from before the prune, r3 0 from March
    assert sorted(next(iter(kept.values()))) == [0.0, 2.0, 3.0]
    assert before == {next(iter(before)): [2.0, 3.0]}
    assert left == FEB


def test_an_earlier_day_not_folded_yet_is_read_from_the_grades(database: Database) -> None:
    """February folded, then January stored and not folded yet (a backfill whose metrics
    step has not run; ``plan --labels`` reads in between): the kept pool is not
    February's pool any more, so February is read from the grades, January's in it."""
    store_lists(database, FEB, {"a": [("r1", 1.0)]})
    _both_reads(database, FEB)
    store_lists(database, JAN, {"a": [("r2", 3.0)]})
    with database.engine.connect() as conn:
        assert not pool.serves_day(conn, day=FEB) and not pool.serves_as_of(conn, day=FEB)
        grades = [sorted(v) for v in pool_reads.pooled_grades(conn, day=FEB).values()]
    assert grades == [[1.0, 3.0]]


def test_a_day_recomputed_after_a_prune_keeps_its_pool(database: Database) -> None:
    """January pruned after March was folded: February, recomputed, still reads the pool
    it had (January's judgments in it), from the kept pool less March's part."""
    store_lists(database, JAN, {"a": [("r1", 3.0), ("r2", 3.0)]})
    store_lists(database, FEB, {"a": [("r1", 1.0)]})
    store_lists(database, MAR, {"a": [("r3", 0.0)]})
    _both_reads(database, MAR)
    before, _ = _as_of_and_read(database, FEB)
    partitions.prune(database, cutoff=dt.date(2026, 2, 1), cache=False)
    with database.engine.connect() as conn:
        assert pool.serves_as_of(conn, day=FEB)
        after = [sorted(v) for v in pool_reads.pooled_grades(conn, day=FEB).values()]
    # a: r1 (3 + 1) / 2, r2 3 (January's, pruned from the grades), not March's r3
    assert before == after == [[2.0, 3.0]]


def test_a_result_the_rerun_no_longer_grades_leaves_the_kept_pool(database: Database) -> None:
    """A day's rerun without one of its results (its sample replaced): the result judged
    only that day goes from ``query_pool`` altogether, not as a row with count 0."""
    store_lists(database, FEB, {"a": [("r1", 1.0), ("r2", 2.0)]})
    _both_reads(database, FEB)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM ensemble_grades WHERE result_id = 'r2'"))
    kept, read = _both_reads(database, FEB)
    assert kept == read and list(kept.values()) == [[1.0]]
    with database.engine.connect() as conn:
        left = conn.execute(text("SELECT result_id, n FROM query_pool")).all()
    assert [tuple(r) for r in left] == [("r1", 1)]
