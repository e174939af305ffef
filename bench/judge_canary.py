"""The judge canary: how fast it sees a silently swapped model, and how often it cries wolf.

A fake OpenAI endpoint (``monitor.testing.canary_drill.SwappableModel``, in process: its
policy is the figure) grades like one model, with a real LLM's day-to-day noise (a share
of answers move by one grade each day). The real canary (``monitor.pipeline.canary``: an
LLM judge through the ``openai`` client, the verdict cache bypassed) re-judges its fixed
anchors every day on a scratch PostgreSQL, and ``JudgeMonitorJudgeChanged`` is read back
from the rules YAML (``monitor.export.alerts.firing_alerts``):

* clean: ``--days`` days of the same model → false-alarm days (the goal is 0);
* swap: the endpoint puts another model behind the same name on ``--swap-day`` (it grades
  ``--changed`` of the items differently) → the detection day, 1 = the day of the swap.

Each of ``--runs`` runs draws other noise (``seed``). Prints a table; the last line is the
JSON report.

    .venv/bin/python bench/judge_canary.py                  # 60 clean days, swap on day 20 of 40
    .venv/bin/python bench/judge_canary.py --noise 0.08 --runs 3
"""

from __future__ import annotations

import argparse
import time

from _common import report, scratch_database

from monitor.export.rules import rules_by_name
from monitor.testing.canary_drill import ALERT, SwappableModel, run_drill
from monitor.testing.fake_openai import FakeOpenAI


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60, help="clean days (no swap)")
    parser.add_argument("--swap-days", type=int, default=40, help="days of the swap run")
    parser.add_argument("--swap-day", type=int, default=20, help="the day the model is swapped")
    parser.add_argument("--noise", type=float, default=0.04, help="daily share of answers moved")
    parser.add_argument(
        "--changed", type=float, default=0.5, help="share the swapped model changes"
    )
    parser.add_argument("--anchors", type=int, default=60, help="canary_size")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    threshold = rules_by_name()[ALERT].thresholds[0]
    started = time.monotonic()
    runs = []
    for seed in range(args.runs):
        clean_model = SwappableModel(noise=args.noise, changed=args.changed, seed=seed)
        with scratch_database() as database, FakeOpenAI(policy=clean_model) as server:
            clean = run_drill(
                database, base_url=server.base_url, model=clean_model, days=args.days,
                canary_size=args.anchors,
            )  # fmt: skip
        swap_model = SwappableModel(noise=args.noise, changed=args.changed, seed=seed)
        with scratch_database() as database, FakeOpenAI(policy=swap_model) as server:
            swapped = run_drill(
                database, base_url=server.base_url, model=swap_model, days=args.swap_days,
                swap_on=args.swap_day, canary_size=args.anchors,
            )  # fmt: skip
        alarms = [n for n, d in enumerate(swapped, start=1) if d.fired]
        after = [n for n in alarms if n >= args.swap_day]
        clean_shares = [d.changed_share or 0.0 for d in clean]
        swap_shares = [d.changed_share or 0.0 for d in swapped[args.swap_day - 1 :]]
        runs.append(
            {
                "seed": seed,
                "false_alarm_days": sum(d.fired for d in clean),
                "false_alarms_before_swap": sum(n < args.swap_day for n in alarms),
                "detection_day": (after[0] - args.swap_day + 1) if after else None,
                "max_changed_share_clean": round(max(clean_shares), 3),
                "mean_changed_share_after_swap": round(sum(swap_shares) / len(swap_shares), 3),
            }
        )
    print(
        f"{'seed':>4} {'false alarms':>13} {'detection day':>14} {'clean max':>10} {'swapped':>8}"
    )
    for r in runs:
        print(
            f"{r['seed']:>4} {r['false_alarm_days']:>8}/{args.days:<4} {r['detection_day']!s:>14} "
            f"{r['max_changed_share_clean']:>10.3f} {r['mean_changed_share_after_swap']:>8.3f}"
        )
    report(
        "judge_canary",
        {
            "clean_days": args.days,
            "swap_day": args.swap_day,
            "anchors": args.anchors,
            "noise": args.noise,
            "changed": args.changed,
            "threshold": threshold,
            "false_alarm_days": sum(r["false_alarm_days"] for r in runs),
            "detection_day": max(
                (r["detection_day"] for r in runs if r["detection_day"] is not None), default=None
            ),
            "missed": sum(r["detection_day"] is None for r in runs),
            "runs": runs,
            "seconds": round(time.monotonic() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
