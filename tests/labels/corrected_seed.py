"""A day of judged samples, some picked for annotation and labelled, in real PostgreSQL.

Through the store's own writes: the day's samples and ensemble grades (``seed_day``), the
annotation pick (``select_for_annotation`` + ``record_selection``) and people's grades
(``upsert_human_labels``), as the ``labels export --for-annotation`` / ``labels import``
loop leaves them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from monitor.labels.annotation import select_for_annotation
from monitor.metrics.quality import query_figures
from monitor.store import label_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import (
    Result,
    SampledQuery,
    SearchRecord,
    Verdict,
    VerdictStatus,
    normalize_query,
)

QUERIES = 30
#: the top result's human grade of the n-th labelled sample, by default
HUMAN_TOP = (0, 1, 3)


def judge_top(i: int) -> int:
    """The judge's grade of query i's top result (its others: 3): every one 3 by default."""
    return 3


def seed_judged(database: Database, day: dt.date, top: Callable[[int], int] = judge_top) -> None:
    """``QUERIES`` queries of three results; the judge grades query i's top result
    ``top(i)`` and the others 3."""
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    sampled = [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=f"query {day} {i:02d}",
                timestamp=stamp,
                results=tuple(
                    Result(id=f"{day}-{i}-r{p}", position=p, title=f"t{p}", text=f"body {p}")
                    for p in range(1, 4)
                ),
                segment={"locale": "en"},
            ),
            stratum="locale=en",
            inclusion_probability=0.5,
        )
        for i in range(QUERIES)
    ]
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=sampled, top_k=10)
        judge = repo.ensure_judge(
            conn, name="j", kind="llm", model="m", prompt_version="p", config_hash="c", params={}
        )
        verdicts, ensemble = [], []
        for i, q in enumerate(sampled):
            sample_id = ids[("production", normalize_query(q.record.query), 0)]
            for r in q.record.results:
                grade = top(i) if r.position == 1 else 3
                verdict = Verdict(
                    judge="j", cache_key=f"{r.id}-j", status=VerdictStatus.OK, grade=grade
                )
                verdicts.append(repo.StoredVerdict(sample_id, judge, r.id, r.position, verdict))
                ensemble.append((sample_id, r.id, r.position, float(grade), 0.0, 1, "median"))
        repo.write_verdicts(conn, verdicts=verdicts)
        repo.upsert_ensemble_grades(conn, rows=ensemble)


def label_day(
    database: Database,
    day: dt.date,
    *,
    picked: int,
    labelled: int,
    human_top: Callable[[int, int], int] | None = None,
) -> dict[int, float]:
    """Pick ``picked`` of the day's samples, fully label ``labelled`` of them (the top
    result ``human_top(n, query number)``, the others 2 and 1); return the human nDCG@10
    of each labelled sample by id, computed here from the grades given."""
    with database.engine.begin() as conn:
        samples = label_reads.day_samples(conn, day=day)
        picks, _ = select_for_annotation(samples, queries=picked, seed=1, day=day)
        label_reads.record_selection(conn, day=day, picks=picks)
        labels, truth = [], {}
        for n, s in enumerate(x for x in samples if x.id in picks):
            if n >= labelled:
                break
            ranked = sorted(s.results, key=lambda r: r["position"])
            number = int(s.query_text.rsplit(" ", 1)[1])
            top = HUMAN_TOP[n % 3] if human_top is None else human_top(n, number)
            given = [top, 2, 1]
            truth[s.id] = query_figures(given, (10,), 2)["ndcg@10"]
            labels += [
                repo.NewLabel(s.query_id, s.query_text, s.query_norm, r["id"], None, g, "ann")
                for r, g in zip(ranked, given, strict=True)
            ]
        repo.upsert_human_labels(conn, labels=labels, source="test")
    return truth


def show_earlier(
    database: Database,
    day: dt.date,
    sample_ids: set[int],
    *,
    judged: float | None = None,
    labelled: float | None = None,
    on: dt.date | None = None,
) -> None:
    """Production showed each of ``sample_ids``' queries (samples of ``day``) the day before
    (or ``on``) with one other result, ``"<id>-earlier"`` (``"<id>-on-<on>"``): judged
    ``judged`` by the ensemble and graded ``labelled`` by people, where given. What puts
    a result in each side's pool that the day's list does not hold (or, shown later,
    must not)."""
    when = day - dt.timedelta(days=1) if on is None else on
    suffix = "earlier" if on is None else f"on-{on}"
    stamp = dt.datetime.combine(when, dt.time(12), tzinfo=dt.UTC)
    with database.engine.begin() as conn:
        shown = [s for s in label_reads.day_samples(conn, day=day) if s.id in sample_ids]
        queries = [
            SampledQuery(
                record=SearchRecord(
                    query_id=s.query_id,
                    query=s.query_text,
                    timestamp=stamp,
                    results=(Result(id=f"{s.id}-{suffix}", position=1, title="t", text="b"),),
                    segment={"locale": "en"},
                ),
                stratum="locale=en",
                inclusion_probability=0.5,
            )
            for s in shown
        ]
        ids = repo.upsert_samples(conn, day=when, queries=queries, top_k=10)
        if judged is not None:
            rows = [
                (
                    ids[("production", s.query_norm, 0)],
                    f"{s.id}-{suffix}",
                    1,
                    judged,
                    0.0,
                    1,
                    "median",
                )
                for s in shown
            ]
            repo.upsert_ensemble_grades(conn, rows=rows)
        if labelled is not None:
            labels = [
                repo.NewLabel(
                    None, s.query_text, s.query_norm, f"{s.id}-{suffix}", None, labelled, "ann"
                )
                for s in shown
            ]
            repo.upsert_human_labels(conn, labels=labels, source="test")
