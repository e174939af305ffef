"""PPI++ corrected means: checked against ``ppi_py``, valid on biased judges, honest when
labels are too few."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ppi_py import ppi_mean_ci, ppi_mean_pointestimate, ppi_power
from ppi_py.baselines import classical_mean_ci

from monitor.errors import InputError
from monitor.metrics.estimate import weighted_mean
from monitor.metrics.ppi import (
    agreement_moments,
    classical_mean,
    labels_needed,
    ppi_fit,
    ppi_mean,
    two_phase_weights,
)

Z95 = 1.959963984540054


def _biased_day(
    seed: int, n: int, big_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-query nDCG-like values in [0, 1] and a judge reading them high and noisy."""
    rng = np.random.default_rng(seed)
    truth = rng.beta(2, 2, size=n + big_n)
    judge = np.clip(0.6 * truth + 0.35 + rng.normal(0, 0.08, size=truth.size), 0, 1)
    return truth[:n], judge[:n], judge[n:], truth[n:]


@pytest.mark.parametrize("seed", range(6))
def test_unweighted_estimate_and_ci_equal_ppi_py(seed: int) -> None:
    """With the normal interval, the point estimate and CI are ppi_py's (λ tuned by lhat=None)."""
    y, yhat, yhat_u, _ = _biased_day(seed, n=40 + 10 * seed, big_n=400)
    fit = ppi_fit(y, yhat, yhat_u, interval="z")
    low, high = ppi_mean_ci(y, yhat, yhat_u, alpha=0.05)
    point = ppi_mean_pointestimate(y, yhat, yhat_u)
    assert fit.lam_rule == "tuned"
    assert fit.estimate.value == pytest.approx(float(np.asarray(point).ravel()[0]), abs=1e-12)
    assert fit.estimate.ci_low == pytest.approx(float(low[0]), abs=1e-12)
    assert fit.estimate.ci_high == pytest.approx(float(high[0]), abs=1e-12)
    assert fit.estimate.n == y.size


@pytest.mark.parametrize("seed", range(4))
def test_weighted_point_estimate_equals_ppi_py(seed: int) -> None:
    """With sampling weights on both sets, the point estimate (and its λ) is ppi_py's."""
    y, yhat, yhat_u, _ = _biased_day(seed, n=60, big_n=300)
    rng = np.random.default_rng(100 + seed)
    w, w_u = rng.uniform(0.5, 4, size=y.size), rng.uniform(0.5, 4, size=yhat_u.size)
    fit = ppi_fit(y, yhat, yhat_u, weights=w, weights_unlabelled=w_u, interval="z")
    point = ppi_mean_pointestimate(y, yhat, yhat_u, w=w, w_unlabeled=w_u)
    assert fit.estimate.value == pytest.approx(float(np.asarray(point).ravel()[0]), abs=1e-12)
    unweighted = ppi_fit(y, yhat, yhat_u, interval="z").estimate.value
    assert fit.estimate.value != pytest.approx(unweighted, abs=1e-6)


def test_classical_equals_ppi_py_classical() -> None:
    """The humans-only normal interval is ppi_py's classical_mean_ci."""
    y, _, _, _ = _biased_day(3, n=50, big_n=10)
    est = classical_mean(y, interval="z")
    low, high = classical_mean_ci(y, alpha=0.05)
    assert (est.ci_low, est.ci_high) == pytest.approx((float(low), float(high)), abs=1e-12)
    assert est.value == pytest.approx(float(y.mean()))


@pytest.mark.parametrize("interval", ["t", "z"])
def test_never_wider_than_humans_only(interval: str) -> None:
    """PPI++'s CI is never wider than the humans-only CI on the same labels."""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(5, 30))
        y, yhat, yhat_u, _ = _biased_day(seed, n=n, big_n=int(rng.integers(2, 200)))
        if seed % 3 == 0:  # a judge unrelated to the truth, the worst case for λ̂
            yhat, yhat_u = rng.random(n), rng.random(yhat_u.size)
        fit = ppi_fit(y, yhat, yhat_u, interval=interval)  # type: ignore[arg-type]
        assert fit.estimate.ci_low is not None and fit.estimate.ci_high is not None
        assert fit.classical.ci_low is not None and fit.classical.ci_high is not None
        width = fit.estimate.ci_high - fit.estimate.ci_low
        assert width <= (fit.classical.ci_high - fit.classical.ci_low) + 1e-12, seed


def test_equal_weights_match_unweighted() -> None:
    """Weights all equal give exactly the unweighted estimate and CI."""
    y, yhat, yhat_u, _ = _biased_day(7, n=25, big_n=150)
    plain = ppi_fit(y, yhat, yhat_u)
    equal = ppi_fit(
        y, yhat, yhat_u, weights=np.full(y.size, 3.5), weights_unlabelled=np.full(150, 3.5)
    )
    assert equal.estimate.value == pytest.approx(plain.estimate.value, abs=1e-12)
    assert equal.estimate.ci_low == pytest.approx(plain.estimate.ci_low, abs=1e-12)
    assert equal.estimate.ci_high == pytest.approx(plain.estimate.ci_high, abs=1e-12)


def test_covers_the_truth_where_the_judge_alone_never_does() -> None:
    """Over 400 simulated days the corrected 95% CI covers the true mean ≥ 93% of the time,
    while the judge-only CI (biased judge) almost never does."""
    rng = np.random.default_rng(11)
    population = rng.beta(2, 3, size=5000)
    judge = np.clip(0.7 * population + 0.3 + rng.normal(0, 0.1, size=population.size), 0, 1)
    truth = float(population.mean())
    covered = judge_covered = 0
    for day in range(400):
        idx = rng.choice(population.size, size=110, replace=False)
        lab, unl = idx[:10], idx[10:]
        est = ppi_mean(population[lab], judge[lab], judge[unl])
        assert est.ci_low is not None and est.ci_high is not None
        covered += est.ci_low <= truth <= est.ci_high
        judged = weighted_mean(judge[idx], n_boot=200, seed=day)
        assert judged.ci_low is not None and judged.ci_high is not None
        judge_covered += judged.ci_low <= truth <= judged.ci_high
    assert covered / 400 >= 0.93
    assert judge_covered / 400 <= 0.05


def test_weights_carry_a_stratified_design() -> None:
    """An oversampled stratum with another judge bias: weighted PPI covers the traffic's
    mean; dropping the weights does not."""
    rng = np.random.default_rng(5)
    sizes = {"big": 9000, "small": 1000}  # share of the traffic
    means, biases = {"big": 0.7, "small": 0.3}, {"big": 0.1, "small": 0.3}
    truth = sum(sizes[s] * means[s] for s in sizes) / sum(sizes.values())
    covered_w = covered_u = 0
    for _ in range(300):
        ys, yhats, weights, strata = [], [], [], []
        for s, sampled in (("big", 60), ("small", 60)):  # the small stratum oversampled
            y = np.clip(rng.normal(means[s], 0.15, size=sampled), 0, 1)
            ys.append(y)
            yhats.append(np.clip(y + biases[s] + rng.normal(0, 0.05, size=sampled), 0, 1))
            weights.append(np.full(sampled, sizes[s] / sampled))
            strata += [s] * sampled
        y, yhat, w = np.concatenate(ys), np.concatenate(yhats), np.concatenate(weights)
        labelled = np.zeros(y.size, dtype=bool)
        labelled[rng.choice(60, 8, replace=False)] = True  # random within each stratum
        labelled[60 + rng.choice(60, 8, replace=False)] = True
        w_lab, w_unl = two_phase_weights(w, labelled, strata)
        fit = ppi_fit(
            y[labelled],
            yhat[labelled],
            yhat[~labelled],
            weights=w_lab[labelled],
            weights_unlabelled=w_unl[~labelled],
        )
        plain = ppi_fit(y[labelled], yhat[labelled], yhat[~labelled])
        for est, hits in ((fit.estimate, "w"), (plain.estimate, "u")):
            assert est.ci_low is not None and est.ci_high is not None
            inside = est.ci_low <= truth <= est.ci_high
            covered_w += inside and hits == "w"
            covered_u += inside and hits == "u"
    assert covered_w / 300 >= 0.93
    assert covered_u / 300 <= 0.5


def test_too_few_labels_is_none_with_a_reason() -> None:
    """Fewer labelled queries than min_labels: no value (never 0) and the reason says why."""
    est = ppi_mean([0.5, 0.7, 0.2], [0.6, 0.8, 0.4], [0.5] * 50)
    assert est.value is None and est.ci_low is None and est.ci_high is None
    assert est.n == 3 and est.reason == "3 labelled queries < 5"
    nan_pairs = ppi_fit([0.5, math.nan] * 3, [0.6, 0.7] * 3, [0.5] * 20)
    assert nan_pairs.estimate.value is None and nan_pairs.n_labelled == 3
    assert classical_mean([1.0]).reason == "1 labelled queries < 5"


def test_without_judge_only_queries_it_is_the_humans_only_mean() -> None:
    """With every query labelled there is nothing to impute: the humans-only estimate."""
    y, yhat, _, _ = _biased_day(2, n=20, big_n=0)
    fit = ppi_fit(y, yhat, [])
    assert fit.lam == 0.0 and fit.lam_rule == "classical"
    assert fit.estimate == fit.classical


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yhat": [0.1, 0.2]}, "yhat: length 2 differs from y's length 5"),
        ({"weights": [1, 1, -1, 1, 1]}, "weights: every weight must be a finite number ≥ 0"),
        ({"weights": [1, 1]}, "weights: length 2 differs from y's length 5"),
        ({"weights_unlabelled": [1.0]}, "weights_unlabelled: length 1 differs"),
        ({"y": [0.1, math.inf, 0.3, 0.4, 0.5]}, "y: infinite values cannot be averaged"),
        ({"y": "abc"}, "y: expected numbers"),
        ({"y": [[0.1, 0.2]] * 5}, "y: expected a flat sequence"),
        ({"lam": 1.5}, r"lam: must be in \[0, 1\], got 1.5"),
        ({"confidence": 1.0}, r"confidence: must be in \(0, 1\)"),
        ({"interval": "bootstrap"}, "interval: 't' or 'z'"),
        ({"min_labels": 1}, "min_labels: at least 2"),
    ],
)
def test_bad_inputs_are_named_errors(kwargs: dict[str, object], message: str) -> None:
    """Each bad input raises an InputError naming the input and what is wrong."""
    args: dict[str, object] = {
        "y": [0.1, 0.2, 0.3, 0.4, 0.5],
        "yhat": [0.2, 0.3, 0.3, 0.5, 0.6],
        "yhat_unlabelled": [0.4, 0.5, 0.6],
    }
    args.update(kwargs)
    y, yhat, yhat_u = args.pop("y"), args.pop("yhat"), args.pop("yhat_unlabelled")
    with pytest.raises(InputError, match=message):
        ppi_fit(y, yhat, yhat_u, **args)  # type: ignore[arg-type]


def test_fixed_lambda_zero_and_one() -> None:
    """λ = 0 is the humans-only mean; λ = 1 is plain PPI (judge mean plus measured bias)."""
    y, yhat, yhat_u, _ = _biased_day(4, n=30, big_n=100)
    zero = ppi_fit(y, yhat, yhat_u, lam=0.0)
    assert zero.estimate.value == pytest.approx(float(y.mean()))
    one = ppi_fit(y, yhat, yhat_u, lam=1.0)
    expected = float(yhat_u.mean() + (y - yhat).mean())
    assert one.estimate.value == pytest.approx(expected) and one.lam_rule == "fixed"


def test_two_phase_weights_per_stratum() -> None:
    """Labelled queries stand for N_h/n_h of their stratum, the others for N_h/(N_h − n_h)."""
    w = np.array([2.0, 2.0, 2.0, 2.0, 5.0, 5.0, 7.0])
    labelled = np.array([True, False, False, False, True, False, True])
    strata = ["a", "a", "a", "a", "b", "b", "c"]
    w_lab, w_unl = two_phase_weights(w, labelled, strata)
    assert w_lab.tolist() == [8.0, 0, 0, 0, 10.0, 0, 7.0]
    assert w_unl.tolist() == pytest.approx([0, 8 / 3, 8 / 3, 8 / 3, 0, 10.0, 7.0])
    # each stratum's weight total is kept by both sets
    for s, total in (("a", 8.0), ("b", 10.0), ("c", 7.0)):
        idx = [i for i, k in enumerate(strata) if k == s]
        assert w_lab[idx].sum() == pytest.approx(total) and w_unl[idx].sum() == total
    # a stratum with no label pools the day into one stratum
    pooled_lab, _ = two_phase_weights(w, [True, False, False, False, False, False, False], strata)
    assert pooled_lab[0] == pytest.approx(2.0 * 7) and pooled_lab[1:].sum() == 0
    with pytest.raises(InputError, match="labelled: length 2 differs"):
        two_phase_weights(w, [True, False], strata)


def test_agreement_moments() -> None:
    """Standard deviations and correlation of human and judge values, NaN pairs left out."""
    y, yhat, _, _ = _biased_day(9, n=200, big_n=0)
    sd_y, sd_h, corr = agreement_moments(np.append(y, math.nan), np.append(yhat, 0.5))
    assert sd_y == pytest.approx(float(y.std())) and sd_h == pytest.approx(float(yhat.std()))
    assert corr == pytest.approx(float(np.corrcoef(y, yhat)[0, 1]))
    assert all(math.isnan(v) for v in agreement_moments([0.5], [0.4]))


@pytest.mark.parametrize(("rho", "queries"), [(0.3, 100), (0.6, 100), (0.8, 100), (0.8, 1000)])
def test_label_plan_matches_ppi_py_power(rho: float, queries: int) -> None:
    """Labels for a target width agree with ppi_py.ppi_power (within its rounding), and the
    planned n is the smallest that reaches the width."""
    sd, width = 0.25, 0.15
    plan = labels_needed(
        sd_human=sd, sd_judge=sd, correlation=rho, target_width=width, queries=queries
    )
    n0 = (2 * Z95 * sd / width) ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ppi_power(rho, cost_X=0, cost_Y=1, cost_Yhat=1e-9, effective_n=n0, n_max=queries)
    assert plan.labels is not None and plan.width is not None and plan.saved is not None
    assert abs(plan.labels - ref["n"]) <= 1
    assert plan.width <= width
    assert plan.humans_only == math.ceil(n0) and plan.saved == plan.humans_only - plan.labels
    fewer = labels_needed(
        sd_human=sd, sd_judge=sd, correlation=rho, target_width=width * 1.0001, queries=queries
    )
    assert fewer.labels is not None and fewer.labels <= plan.labels


def test_label_plan_gains_with_agreement_and_says_when_unreachable() -> None:
    """A better-agreeing judge needs fewer labels; a width the day cannot reach is None with
    a reason."""
    common = {"sd_human": 0.3, "sd_judge": 0.2, "target_width": 0.1, "queries": 500}
    weak = labels_needed(correlation=0.2, **common)  # type: ignore[arg-type]
    strong = labels_needed(correlation=0.9, **common)  # type: ignore[arg-type]
    assert weak.labels is not None and strong.labels is not None
    assert strong.labels < weak.labels < weak.humans_only + 1
    tiny = labels_needed(
        sd_human=0.3, sd_judge=0.3, correlation=0.5, target_width=0.01, queries=100
    )
    assert tiny.labels is None and tiny.reason is not None and "100" in tiny.reason
    with pytest.raises(InputError, match="correlation: must be in"):
        labels_needed(correlation=1.5, **common)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="target_width: must be a positive number"):
        labels_needed(sd_human=0.3, sd_judge=0.2, correlation=0.5, target_width=0, queries=9)
