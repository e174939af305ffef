"""Storage at scale: a history at 1x and 10x of the storage bench, and what stays flat.

For each size (``--per-day`` verdicts a day, then ``--factor`` times that; 3 judges x
top-10, so a day holds per-day / 30 samples), on scratch databases of its own:

1. three scratch databases are seeded: the last day alone, the last day and its 14
   days of baseline window, and the whole ``--days`` history (the last day is COPY'd
   into the partitioned tables; every other day is cloned from it inside the server,
   new ids and dates, faster than formatting rows in Python; with every day's figures
   and run, and a verdict cache holding 30% of each day's verdicts), then vacuumed;
2. the last day's metrics step (``compute_day_metrics``) runs on the three in turn,
   ``--runs`` rounds after an untimed one, so that the machine's load falls on all three
   alike: medians, and the ratio of the whole history to one day (goal <= 1.5) and to
   the window (what the history beyond the baseline costs); then, once on each, the
   step's main reads: the day's verdicts, the window's stored grade histograms (and the
   recount from its verdicts they replace), and the pooled grades of the day's queries
   (``pool_reads.pooled_grades``: the kept pool, one row per result ever judged), of the
   day and of a day a week back (a label window's first day: the kept pool less the
   later days' parts, and for comparison the same pool from every stored day's grades),
   and the read the ``cuped`` setting adds (the day's queries' lists of the window);
3. ``GET /metrics`` on the exporter over HTTP: median of ``--scrapes`` (goal < 100 ms);
4. bytes per stored verdict: the verdict partitions with their indexes and TOAST, and
   all of a day's tables (samples and ensemble grades too) per verdict;
5. ``db prune`` of the first month (``partitions.prune``, one run: it drops it): the
   month's partitions (goal < 5 s) and, apart, the cache entries last used in it.

Usage: ``python bench/scale.py [--days 60] [--per-day 30000] [--factor 10] [--big-days N]
[--runs 3] [--big-runs 2] [--scrapes 20]``; ``--big-days`` and ``--big-runs`` are the
history and the rounds at the second size (default ``--days``, 2); ``--quick`` is 20
days x 6,000 and 10x. JSON on the last line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prometheus_client import start_http_server
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database
from judge_throughput import llm_config

from monitor.config import SamplingConfig, Settings
from monitor.export.exporter import exporter_engine, make_registry
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store import metric_reads, panel_reads, partitions, pool_reads
from monitor.store import repository as repo
from monitor.store.db import Database

TOP_K, JUDGES = 10, 3
FIRST = dt.date(2025, 1, 1)
LOCALES = ("en", "de", "fr")
TEXTS = {p: "a result passage " * (p + 3) for p in range(1, TOP_K + 1)}
REASONING = "The passage answers the question directly."
RAW = '{"reasoning": "...", "grade": 2}'
_CHUNK = 1 << 22  # bytes per COPY write


class Ids:
    """Ids handed out by the bench itself (it owns the scratch database)."""

    def __init__(self) -> None:
        self.sample = self.verdict = self.grade = 0
        self.template: dt.date | None = None  # the day COPY'd, the others cloned from it


def _copy(raw: psycopg.Connection, table: str, columns: str, lines: Iterator[str]) -> int:
    """COPY text lines (tab-separated, nothing to escape) into ``table``."""
    count, buffer, size = 0, [], 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for line in lines:
            buffer.append(line)
            size += len(line)
            count += 1
            if size > _CHUNK:
                copy.write("".join(buffer))
                buffer, size = [], 0
        copy.write("".join(buffer))
    return count


def _samples(day: dt.date, first_id: int, n: int) -> Iterator[str]:
    stamp = f"{day.isoformat()} 12:00:00+00"
    for q in range(n):
        locale = LOCALES[q % 3]
        results = ", ".join(
            f'{{"id": "r{q}-{p}", "position": {p}, "title": "", "text": "{TEXTS[p]}", '
            '"metadata": {}}'
            for p in range(1, TOP_K + 1)
        )
        query = f"query {q % 500} about topic {q}"
        yield (
            f"{first_id + q}\t{day}\tproduction\t{day}-{q}\t{query}\t{query}\t{stamp}\t"
            f'{locale}\t{{"locale": "{locale}"}}\t0.1\t10\tf\t[{results}]\t'
            '{"clicks": 0, "zero_result": false, "reformulated": false}\n'
        )


def _verdicts(day: dt.date, n: int, first_sample: int, first_id: int, judges: list[int]):  # type: ignore[no-untyped-def]
    row = first_id
    for q in range(n):
        sid = first_sample + q
        for p in range(1, TOP_K + 1):
            for j, jid in enumerate(judges):
                grade = (q + p + j + day.toordinal()) % 4
                key = f"{day.toordinal():08x}{sid:016x}{p:04x}{j:04x}".ljust(64, "0")
                yield (
                    f"{row}\t{sid}\t{jid}\tr{q}-{p}\t{p}\tpointwise\tok\t{grade}\t\\N\t"
                    f"{REASONING}\t{RAW}\t420\t35\t201.5\t8.76e-05\tf\tf\t{key}\t{day}\n"
                )
                row += 1


def _grades(day: dt.date, n: int, first_sample: int, first_id: int) -> Iterator[str]:
    row = first_id
    for q in range(n):
        for p in range(1, TOP_K + 1):
            grades = sorted((q + p + j + day.toordinal()) % 4 for j in range(JUDGES))
            yield f"{row}\t{first_sample + q}\tr{q}-{p}\t{p}\t{grades[1]}\t0.5\t3\tmedian\t{day}\n"
            row += 1


def _cache(day: dt.date, n: int, first_sample: int) -> Iterator[str]:
    """30% of the day's verdicts as new paid answers, last used that day (the rest
    repeat earlier days', as in the cache-savings bench)."""
    for q in (q for q in range(n) if q % 10 < 3):
        sid = first_sample + q
        for p in range(1, TOP_K + 1):
            for j in range(JUDGES):
                key = f"{day.toordinal():08x}{sid:016x}{p:04x}{j:04x}".ljust(64, "0")
                yield (
                    f"{key}\tllm{j}\tm\tp\tpointwise\tok\t{(q + p + j) % 4}\t\\N\t{REASONING}\t"
                    f"{RAW}\t420\t35\t201.5\t8.76e-05\tf\t{day}\n"
                )


VERDICT_COLUMNS = (
    "id, sample_id, judge_id, result_id, position, mode, status, grade, expected_grade, "
    "reasoning, raw, input_tokens, output_tokens, latency_ms, cost_usd, truncated, "
    "cache_hit, cache_key, sample_date"
)
SAMPLE_COLUMNS = (
    "id, sample_date, ranker, query_id, query_text, query_norm, searched_at, stratum, "
    "segment, inclusion_prob, weight, hard, results, signals"
)
GRADE_COLUMNS = (
    "id, sample_id, result_id, position, grade, disagreement, n_judges, method, sample_date"
)
CACHE_COLUMNS = (
    "cache_key, judge_name, model, prompt_version, mode, status, grade, expected_grade, "
    "reasoning, raw, input_tokens, output_tokens, latency_ms, cost_usd, truncated, last_used"
)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _copy_day(raw: psycopg.Connection, day: dt.date, n: int, judges: list[int], ids: Ids) -> None:
    """COPY one day: its samples, verdicts, ensemble grades and cache entries."""
    _copy(raw, "samples", SAMPLE_COLUMNS, _samples(day, ids.sample + 1, n))
    _copy(
        raw, "verdicts", VERDICT_COLUMNS, _verdicts(day, n, ids.sample + 1, ids.verdict + 1, judges)
    )
    _copy(raw, "ensemble_grades", GRADE_COLUMNS, _grades(day, n, ids.sample + 1, ids.grade + 1))
    _copy(raw, "verdict_cache", CACHE_COLUMNS, _cache(day, n, ids.sample + 1))


def _clone_day(raw: psycopg.Connection, source: dt.date, day: dt.date, ids: Ids) -> None:
    """Copy the COPY'd ``source`` day's rows to ``day`` inside the server (new ids, the
    date and the cache keys' day prefix shifted): the same rows at a tenth of the time
    Python takes to format them."""
    key = "lpad(to_hex(%(ord)s), 8, '0') || substr(cache_key, 9)"
    shift = {"src": source, "day": day, "ord": day.toordinal()}
    bounds = raw.execute(
        "SELECT (SELECT min(id) FROM samples WHERE sample_date = %(src)s), "
        "(SELECT min(id) FROM verdicts WHERE sample_date = %(src)s), "
        "(SELECT min(id) FROM ensemble_grades WHERE sample_date = %(src)s)",
        shift,
    ).fetchone()
    assert bounds is not None
    offsets = {
        "s": ids.sample + 1 - bounds[0],
        "v": ids.verdict + 1 - bounds[1],
        "g": ids.grade + 1 - bounds[2],
        **shift,
    }
    counts = []
    for statement in (
        f"INSERT INTO samples ({SAMPLE_COLUMNS}) SELECT id + %(s)s, %(day)s, ranker, "
        "query_id, query_text, query_norm, searched_at + (%(day)s - %(src)s) * interval '1 day', "
        "stratum, segment, inclusion_prob, weight, hard, results, signals FROM samples "
        "WHERE sample_date = %(src)s",
        f"INSERT INTO verdicts ({VERDICT_COLUMNS}) SELECT id + %(v)s, sample_id + %(s)s, "
        "judge_id, result_id, position, mode, status, grade, expected_grade, reasoning, raw, "
        "input_tokens, output_tokens, latency_ms, cost_usd, truncated, cache_hit, "
        f"{key}, %(day)s FROM verdicts WHERE sample_date = %(src)s",
        f"INSERT INTO ensemble_grades ({GRADE_COLUMNS}) SELECT id + %(g)s, sample_id + %(s)s, "
        "result_id, position, grade, disagreement, n_judges, method, %(day)s "
        "FROM ensemble_grades WHERE sample_date = %(src)s",
        f"INSERT INTO verdict_cache ({CACHE_COLUMNS}) SELECT {key}, judge_name, model, "
        "prompt_version, mode, status, grade, expected_grade, reasoning, raw, input_tokens, "
        "output_tokens, latency_ms, cost_usd, truncated, %(day)s FROM verdict_cache "
        "WHERE last_used = %(src)s",
    ):
        counts.append(raw.execute(statement, offsets).rowcount)
    ids.sample += counts[0]
    ids.verdict += counts[1]
    ids.grade += counts[2]


def _seed(db: Database, days: list[dt.date], n: int, judges: list[int], ids: Ids) -> int:
    """The first day ever seeded is COPY'd; every other day is cloned from it. Return
    how many verdicts were added."""
    before = ids.verdict
    with psycopg.connect(_libpq(db.url)) as raw:
        for day in days:
            raw.execute(
                "SELECT judge_monitor_ensure_partitions(%s, %s)", (day, day + dt.timedelta(31))
            )
            if ids.template is None:
                _copy_day(raw, day, n, judges, ids)
                ids.template = day
                ids.verdict += n * TOP_K * JUDGES
                ids.grade += n * TOP_K
                ids.sample += n
            else:
                _clone_day(raw, ids.template, day, ids)
            raw.commit()
        for table, last in (
            ("samples", ids.sample),
            ("verdicts", ids.verdict),
            ("ensemble_grades", ids.grade),
        ):
            raw.execute(f"SELECT setval('{table}_id_seq', {last})")
        raw.commit()
        # an old history is vacuumed: without this, autovacuum would still be at work
        # on the biggest store while its metrics step is timed
        raw.autocommit = True
        raw.execute("VACUUM (ANALYZE)")
    return ids.verdict - before


def _judges(db: Database) -> list[int]:
    with db.engine.begin() as conn:
        return [
            repo.ensure_judge(
                conn,
                name=f"llm{j}",
                kind="llm",
                model="m",
                prompt_version="p",
                config_hash=f"h{j}",
                params={},
            )
            for j in range(JUDGES)
        ]


def _history(db: Database, last: dt.date, days: list[dt.date]) -> None:
    """Every day's figures (the last day's, copied) and a completed run per day."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO daily_metrics (metric_date, metric, segment, judge, k, value, "
                "ci_low, ci_high, n, reason) SELECT d, metric, segment, judge, k, value, ci_low, "
                "ci_high, n, reason FROM daily_metrics CROSS JOIN unnest(CAST(:days AS date[])) "
                "AS d WHERE metric_date = :last ON CONFLICT DO NOTHING"
            ),
            {"days": [d for d in days if d != last], "last": last},
        )
        for day in days:
            run_id = repo.start_run(conn, flow="daily", run_date=day, config_hash="h")
            repo.finish_run(
                conn,
                run_id=run_id,
                status="completed",
                counts={"judged": 100, "cached": 50, "invalid": 1, "bad_rows": 0},
                cost_usd=1.0,
                duration_s=60.0,
            )
        conn.execute(text("ANALYZE daily_metrics"))


def _reads(db: Database, last: dt.date, window: int) -> dict[str, float]:
    """Seconds of the step's main reads on ``db``: the day's verdicts, the baseline
    window's stored grade histograms (what the step reads) and, for comparison, the
    window's grades recounted from its verdicts (what it reads for days stored without
    histograms), and the pooled grades of the day's queries (the kept pool), of the day
    and of a day a week back."""
    first, week_back = last - dt.timedelta(days=window), last - dt.timedelta(days=7)
    calls = {
        "day verdicts": lambda c: metric_reads.pointwise_verdicts(c, day=last),
        "window histograms": lambda c: metric_reads.stored_grade_counts(
            c, first=first, last=last - dt.timedelta(days=1)
        ),
        "window recount": lambda c: metric_reads.judge_grades_between(
            c, first=first, last=last - dt.timedelta(days=1)
        ),
        "pooled grades": lambda c: pool_reads.pooled_grades(c, day=last),
        # a label window's earlier day: the kept pool less the days after it, and the
        # same pool read from every stored day's grades (include_compare takes that path;
        # the bench stores no compare run, so the two agree)
        "pooled grades, a week back": lambda c: pool_reads.pooled_grades(c, day=week_back),
        "... from the grades": lambda c: pool_reads.pooled_grades(
            c, day=week_back, include_compare=True
        ),
        # what the cuped setting adds: the day's queries' lists of the baseline window
        "past lists (cuped)": lambda c: panel_reads.past_lists(c, day=last, days=window),
    }
    seconds = {}
    with db.engine.connect() as conn:
        for name, call in calls.items():
            t0 = time.perf_counter()
            call(conn)
            seconds[name] = time.perf_counter() - t0
    return seconds


def _scrape(db: Database, scrapes: int) -> dict[str, float]:
    engine = exporter_engine(db.url)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=make_registry(engine))
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        with httpx.Client(timeout=30) as client:
            body = client.get(url).text  # warm the connection pool
            seconds = []
            for _ in range(scrapes):
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                seconds.append(time.perf_counter() - t0)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        engine.dispose()
    series = sum(1 for line in body.splitlines() if not line.startswith("#"))
    return {"median_ms": statistics.median(seconds) * 1000, "series": series}


def _bytes(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        sizes = {
            table: int(
                conn.execute(
                    text(
                        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) "
                        "FROM pg_inherits WHERE inhparent = CAST(:t AS regclass)"
                    ),
                    {"t": table},
                ).scalar_one()
            )
            for table in ("samples", "verdicts", "ensemble_grades")
        }
        sizes["verdict_cache"] = int(
            conn.execute(text("SELECT pg_total_relation_size('verdict_cache')")).scalar_one()
        )
        sizes["verdict_rows"] = int(
            conn.execute(text("SELECT count(*) FROM verdicts")).scalar_one()
        )
    return sizes


def _size(
    stores: tuple[Database, Database, Database], per_day: int, n_days: int, runs: int, scrapes: int
) -> dict[str, Any]:
    """The figures at one size: ``stores`` are three scratch databases, seeded with the
    last day, with it and its baseline window, and with the whole history; the metrics
    step runs on each in turn, ``runs`` rounds, so the machine's load hits all three."""
    queries = per_day // (TOP_K * JUDGES)
    days = [FIRST + dt.timedelta(days=i) for i in range(n_days)]
    last = days[-1]
    settings = Settings(
        judges=[llm_config(f"llm{j}", "http://127.0.0.1:9/v1") for j in range(JUDGES)],
        sampling=SamplingConfig(size=queries, top_k=TOP_K),
    )
    window = settings.baseline_days
    held = {"1 day": [last], f"{window + 1} days": days[-window - 1 :], f"{n_days} days": days}
    out: dict[str, Any] = {"per_day": queries * TOP_K * JUDGES, "days": n_days}
    t0 = time.perf_counter()
    for store, stored_days in zip(stores, held.values(), strict=True):
        ids = Ids()
        judges = _judges(store)
        # the last day first: it is COPY'd, the others are cloned from it
        _seed(store, [last, *stored_days[:-1]], queries, judges, ids)
        compute_day_metrics(store, last, settings)  # untimed: the day's figures, warm
        if len(stored_days) > 1:
            _history(store, last, stored_days)  # those figures on every other day
    seed_s = time.perf_counter() - t0
    db = stores[-1]
    with db.engine.connect() as conn:
        stored = int(conn.execute(text("SELECT count(*) FROM verdicts")).scalar_one())
    seconds: dict[str, list[float]] = {label: [] for label in held}
    for _ in range(runs):
        for store, label in zip(stores, held, strict=True):
            t0 = time.perf_counter()
            compute_day_metrics(store, last, settings)
            seconds[label].append(time.perf_counter() - t0)
    one, windowed, full = (statistics.median(v) for v in seconds.values())
    reads = {label: _reads(store, last, window) for store, label in zip(stores, held, strict=True)}
    for label, values in seconds.items():
        print(
            f"  {label + ' stored:':<24} metrics {statistics.median(values):.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f})"
        )
    for name in reads[f"{n_days} days"]:
        print(
            f"    read {name + ':':<22}"
            + ", ".join(f"{reads[label][name]:.2f} s" for label in held)
            + f"  ({' / '.join(held)})"
        )
    print(f"  history: {stored:,} verdicts (seeded, all three stores, in {seed_s:.0f} s)")
    scrape = _scrape(db, scrapes)
    print(f"  exporter scrape:         {scrape['median_ms']:.1f} ms ({scrape['series']:,} series)")
    sizes = _bytes(db)
    per_verdict = sizes["verdicts"] / sizes["verdict_rows"]
    all_tables = (sizes["verdicts"] + sizes["samples"] + sizes["ensemble_grades"]) / sizes[
        "verdict_rows"
    ]
    print(
        f"  bytes per verdict:       {per_verdict:.0f} (verdicts and indexes), "
        f"{all_tables:.0f} with samples and ensemble grades"
    )
    month_end = dt.date(FIRST.year, FIRST.month + 1, 1)
    t0 = time.perf_counter()
    dropped = partitions.prune(db, cutoff=month_end, cache=False)
    prune_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cache = partitions.prune(db, cutoff=month_end + dt.timedelta(days=7))  # as last used
    cache_s = time.perf_counter() - t0
    assert cache.cache is not None
    print(
        f"  db prune of {FIRST:%B}:     {prune_s:.2f} s ({'' if dropped.exact else '~'}"
        f"{dropped.rows:,} rows, "
        f"{dropped.bytes / 2**20:,.0f} MB in {len(dropped.partitions)} partitions); "
        f"its cache entries: {cache_s:.1f} s ({cache.cache.rows:,} entries)"
    )
    out.update(
        {
            "history_verdicts": stored,
            "seed_s": round(seed_s, 1),
            "metrics_one_day_s": round(one, 3),
            "metrics_window_s": round(windowed, 3),
            "metrics_full_s": round(full, 3),
            "metrics_runs_s": {k: [round(x, 3) for x in v] for k, v in seconds.items()},
            "reads_s": {k: {n: round(x, 3) for n, x in v.items()} for k, v in reads.items()},
            "ratio_to_one_day": round(full / one, 3),
            "ratio_to_window": round(full / windowed, 3),
            "scrape_median_ms": round(scrape["median_ms"], 2),
            "scrape_series": scrape["series"],
            "bytes_per_verdict": round(per_verdict),
            "bytes_per_verdict_all_tables": round(all_tables),
            "cache_bytes": sizes["verdict_cache"],
            "prune_month_s": round(prune_s, 3),
            "prune_month_rows": dropped.rows,
            "prune_month_rows_exact": dropped.exact,
            "prune_month_bytes": dropped.bytes,
            "prune_cache_s": round(cache_s, 2),
            "prune_cache_rows": cache.cache.rows,
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=30_000, help="verdicts a day at 1x")
    parser.add_argument("--factor", type=int, default=10, help="the second size, x per-day")
    parser.add_argument(
        "--big-days", type=int, default=None, help="days at the second size (default: --days)"
    )
    parser.add_argument("--runs", type=int, default=3, help="of each metrics step at 1x")
    parser.add_argument(
        "--big-runs", type=int, default=2, help="at the second size (a step takes ~20 s)"
    )
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="20 days x 6,000 and 10x")
    args = parser.parse_args()
    if args.quick:
        args.days, args.per_day = 20, 6_000
    big_days = args.big_days or args.days
    if min(args.days, big_days) < 16:
        parser.error("--days and --big-days must be at least 16 (the day and its baseline)")
    start = time.perf_counter()
    sizes = {}
    for label, per_day, days, runs in (
        ("1x", args.per_day, args.days, args.runs),
        (f"{args.factor}x", args.per_day * args.factor, big_days, args.big_runs),
    ):
        print(f"{label}: {days} days x {per_day:,} verdicts")
        if days <= 31:
            print("  (the history is within January: pruning it drops everything)")
        with scratch_database() as one, scratch_database() as window, scratch_database() as db:
            sizes[label] = _size((one, window, db), per_day, days, runs, args.scrapes)
    small, big = sizes["1x"], sizes[f"{args.factor}x"]
    print(f"total {time.perf_counter() - start:.0f} s")
    report(
        "scale",
        {
            "days": args.days,
            "big_days": big_days,
            "per_day": args.per_day,
            "factor": args.factor,
            "runs": args.runs,
            "big_runs": args.big_runs,
            "sizes": sizes,
            "ratio_to_one_day_1x": small["ratio_to_one_day"],
            "ratio_to_one_day_10x": big["ratio_to_one_day"],
            "scrape_median_ms_10x": big["scrape_median_ms"],
            "prune_month_s_10x": big["prune_month_s"],
            "bytes_per_verdict_10x": big["bytes_per_verdict"],
            "total_s": round(time.perf_counter() - start),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
