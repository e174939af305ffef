"""`judge-monitor plan --labels`: how many human labels a day the corrected nDCG@10 (the
headline pooled ``ndcg``) needs, from the stored judge/human agreement, as a user runs it.

Every query is seen once, with no other label, so each side's pool is its own list."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable

import numpy as np
from corrected_seed import label_day, seed_judged, show_earlier

from monitor.metrics.ppi import agreement_moments, labels_needed
from monitor.metrics.quality import query_figures
from monitor.store import label_reads, pool
from monitor.store.db import Database

DAY = dt.date(2026, 10, 7)
Cli = Callable[..., subprocess.CompletedProcess[str]]


def _judge(i: int) -> int:
    return i % 4


def _human(n: int, number: int) -> int:
    return max(_judge(number) - (1 if n % 3 == 0 else 0), 0)  # people are a bit stricter


def test_plan_labels_follows_the_power_analysis(database: Database, cli: Cli) -> None:
    seed_judged(database, DAY, _judge)
    truth = label_day(database, DAY, picked=20, labelled=20, human_top=_human)
    with database.engine.connect() as conn:
        numbers = {
            s.id: int(s.query_text.rsplit(" ", 1)[1])
            for s in label_reads.day_samples(conn, day=DAY)
        }
    y = np.array([truth[i] for i in sorted(truth)])
    yhat = np.array(
        [query_figures([_judge(numbers[i]), 3, 3], (10,), 2)["ndcg@10"] for i in sorted(truth)]
    )
    sd_h, sd_j, corr = agreement_moments(y, yhat)
    assert corr > 0.5, "the seeded judge agrees with people"
    plan = labels_needed(
        sd_human=sd_h, sd_judge=sd_j, correlation=corr, target_width=0.3, queries=30
    )
    assert plan.labels is not None and plan.saved is not None and plan.saved > 0
    done = cli("plan", "--labels", "--target-width", "0.3")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "measured on 20 stored labelled queries of segment all" in out
    assert f"correlation {corr:.2f}" in out and "30 judged queries a labelled day" in out
    assert "per-query sd of nDCG@10 0." in out
    assert f"{plan.labels:,} labelled queries a day give the corrected nDCG@10 of all" in out
    assert f"humans only would need {plan.humans_only:,}: the judge saves {plan.saved:,}" in out


def test_plan_labels_by_segment_and_an_unknown_one(database: Database, cli: Cli) -> None:
    seed_judged(database, DAY, _judge)
    label_day(database, DAY, picked=12, labelled=12, human_top=_human)
    done = cli("plan", "--labels", "--target-width", "0.5", "--segment", "locale=en")
    assert done.returncode == 0, done.stderr
    assert "12 stored labelled queries of segment locale=en" in " ".join(done.stdout.split())
    bad = cli("plan", "--labels", "--segment", "locale=xx")
    assert bad.returncode == 1
    assert "--segment 'locale=xx': 0 labelled queries" in " ".join(bad.stderr.split())


def test_plan_labels_without_labels_says_how_to_get_some(database: Database, cli: Cli) -> None:
    seed_judged(database, DAY, _judge)
    done = cli("plan", "--labels")
    assert done.returncode == 1
    err = " ".join(done.stderr.split())
    assert "no stored human labels" in err
    assert "label some first: judge-monitor labels export --for-annotation" in err


def test_plan_labels_rejects_a_bad_width(database: Database, cli: Cli) -> None:
    done = cli("plan", "--labels", "--target-width", "0")
    assert done.returncode == 1
    assert "--target-width must be in (0, 1), got 0.0" in done.stderr


def test_plan_labels_measures_the_pooled_figure(database: Database, cli: Cli) -> None:
    """Production showed every labelled query the day before with a result the judge and
    people both grade 3: the agreement is measured on the pooled ``ndcg`` (each side's
    ideal holds that 3), not on the list-ideal figure, which correlates differently; and
    the 3 the judge gave the same queries the day after is not in the day's pool."""
    seed_judged(database, DAY, _judge)
    label_day(database, DAY, picked=20, labelled=20, human_top=_human)
    with database.engine.connect() as conn:
        picked = label_reads.selected_samples(conn, first=DAY, last=DAY)
    show_earlier(database, DAY, {s.id for s in picked}, judged=3.0, labelled=3)
    later = DAY + dt.timedelta(days=1)  # a later day folded: DAY reads the kept pool less it
    show_earlier(database, DAY, {s.id for s in picked}, judged=3.0, on=later)
    with database.engine.begin() as conn:
        pool.fold_through(conn, day=later)
    with database.engine.connect() as conn:
        assert pool.serves_as_of(conn, day=DAY) and not pool.serves_day(conn, day=DAY)
    y, yhat, y_list, yhat_list = [], [], [], []
    for s in picked:
        ranked = sorted(s.results, key=lambda r: r["position"])
        number = int(ranked[0]["id"].rsplit("-", 2)[1])  # "<day>-<query number>-r1"
        human = [float(s.grades[r["id"]][0]) for r in ranked]
        judge = [float(_judge(number)), 3.0, 3.0]
        y.append(query_figures(human, (10,), 2, pool=[*human, 3.0])["ndcg@10"])
        yhat.append(query_figures(judge, (10,), 2, pool=[*judge, 3.0])["ndcg@10"])
        y_list.append(query_figures(human, (10,), 2)["ndcg@10"])
        yhat_list.append(query_figures(judge, (10,), 2)["ndcg@10"])
    _, _, corr = agreement_moments(np.array(y), np.array(yhat))
    _, _, corr_list = agreement_moments(np.array(y_list), np.array(yhat_list))
    assert f"{corr:.2f}" != f"{corr_list:.2f}", "the seed tells the two figures apart"
    done = cli("plan", "--labels", "--target-width", "0.3")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "measured on 20 stored labelled queries of segment all" in out
    assert f"correlation {corr:.2f}" in out
