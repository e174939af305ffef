"""`judge-monitor demo --judge lexical|semantic`: the regression on day 15 is seen, in time."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from monitor.demo import setup as demo
from monitor.export.alerts import firing_alerts
from monitor.store.embedded import start_embedded, stop_embedded

#: one local judge alone (the default ensemble has its own test, test_demo_ensemble.py);
#: the semantic one where its extra is installed
LOCAL_JUDGES = ["lexical", *(["semantic"] if demo.semantic_available() else [])]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("judge", LOCAL_JUDGES)
def test_demo_finds_the_injected_regression_and_no_earlier_alarm(judge: str) -> None:
    """One local judge: change point within a day of day 15; quality drop on it, not before."""
    with tempfile.TemporaryDirectory(prefix="jm-demo-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        out = subprocess.run(
            [sys.executable, "-m", "monitor", "demo", "--data-dir", tmp, "--judge", judge],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        folder = demo.demo_data_dir(Path(tmp))
        try:
            assert out.returncode == 0, out.stderr[-3000:]
            assert "Traceback" not in out.stderr
            assert "judge_monitor_ndcg{" in out.stdout, "the exporter excerpt is missing"
            assert ("not for judging real search quality" in out.stdout) == (judge == "lexical")
            end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
            start = end - dt.timedelta(days=demo.DEMO_DAYS - 1)
            regression = start + dt.timedelta(days=demo.REGRESSION_DAY - 1)
            engine = create_engine(start_embedded(folder))
            try:
                with engine.connect() as conn:
                    from sqlalchemy import text

                    days_ago = conn.execute(
                        text(
                            "SELECT value FROM daily_metrics WHERE metric_date = :d AND "
                            "metric = 'changepoint_start_days_ago' AND segment = 'all'"
                        ),
                        {"d": end},
                    ).scalar()
                    assert days_ago is not None, "no change point found"
                    found = end - dt.timedelta(days=int(days_ago))
                    assert abs((found - regression).days) <= 1

                    def drop_on(day: dt.date) -> bool:
                        return any(
                            f.alert == "JudgeMonitorQualityDropVsBaseline" and f.segment == "all"
                            for f in firing_alerts(conn, day)
                        )

                    before = [start + dt.timedelta(days=i) for i in range(demo.REGRESSION_DAY - 1)]
                    assert not any(drop_on(day) for day in before)
                    assert drop_on(regression)
            finally:
                engine.dispose()
        finally:
            stop_embedded(folder)
