"""``judge-monitor demo``: the whole service on this machine, in a few minutes.

By default the judges are an ensemble of three simulated LLM judges (OpenAI-compatible
test servers on loopback answering from the demo's ground truth, ``monitor.demo.judges``)
and the lexical judge; ``--judge lexical`` or ``--judge semantic`` runs one local judge
alone instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from monitor.cli._prefect import quiet_prefect
from monitor.cli._progress import progress_display
from monitor.cli.app import app, console
from monitor.cli.run import summary_table
from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.pipeline.compare import CompareResult
    from monitor.pipeline.steps import DayOutcome
    from monitor.testing.fake_openai import FakeOpenAI

__all__ = ["demo_command"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(text: str) -> None:
    """Plain text (no rich markup: TOML's [[judges]] is not a tag), wrapped to the width."""
    console.print(text, markup=False, highlight=False)


def _lines(lines: list[str]) -> None:
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo_command(
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the demo's own PostgreSQL lives (default: per user)."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep earlier demo data instead of resetting."),
    serve: bool = typer.Option(
        False, "--serve", help="Keep the exporter running after the demo (Ctrl-C to stop)."
    ),
    judge: str = typer.Option(
        "ensemble",
        "--judge",
        help="ensemble (three simulated LLM judges and the lexical judge), lexical or "
        "semantic (that local judge alone).",
    ),
    days: int = typer.Option(21, "--days", help="Days of traffic (at least 16)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Backfill 21 days of demo traffic with a regression on day 15, and show what is seen:
    the quality series, the change point, the judges' health and cost, the alerts."""
    started = time.monotonic()
    # Prefect's temporary API server gets 20 s to start by default: too few on a busy
    # two-core machine, where the demo must still run
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    quiet_prefect(verbose)
    from monitor.demo import setup as demo

    judge = "ensemble" if judge == "auto" else judge  # "auto" was the former default
    if judge not in demo.JUDGE_MODES:
        raise InputError(f"--judge must be one of {', '.join(demo.JUDGE_MODES)}, got {judge!r}")
    if days < demo.MIN_DAYS:
        raise InputError(
            f"--days must be at least {demo.MIN_DAYS} (a baseline, the regression on day "
            f"{demo.REGRESSION_DAY}, a day after it), got {days}"
        )
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=days - 1)
    regression = start + dt.timedelta(days=demo.REGRESSION_DAY - 1)
    folder = demo.demo_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "judge-monitor.toml"
    os.environ["JUDGE_MONITOR_CONFIG"] = str(config_path)
    os.environ["JUDGE_MONITOR_DATA_DIR"] = str(folder)
    for key in list(os.environ):  # settings match names case-insensitively
        if key.casefold() in ("database_url", "judge_monitor_database_url"):
            del os.environ[key]

    with contextlib.ExitStack() as stack:
        servers: dict[str, FakeOpenAI] = {}
        llm_blocks: list[dict[str, object]] = []
        if judge == "ensemble":
            from monitor.demo.judges import DEMO_KEY_ENV, SIMULATED_JUDGES, simulated_endpoints

            servers = stack.enter_context(simulated_endpoints(demo.SOURCE_OPTIONS))
            os.environ[DEMO_KEY_ENV] = "simulated-judges-take-any-key"  # not a secret
            llm_blocks = [j.config(servers[j.name].base_url) for j in SIMULATED_JUDGES]
        config_path.write_text(
            demo.to_toml(demo.demo_config(end, judge=judge, days=days, llm_judges=llm_blocks))
        )
        result = _run(config_path, judge, start, end, regression, keep, days, servers)
    _show(result, folder, config_path, judge, start, end, regression, started, serve)


class _Run:
    """What the demo found, read while its endpoints were up."""

    def __init__(self) -> None:
        self.outcomes: list[DayOutcome] = []
        self.compared: CompareResult | None = None
        self.billed = 0  # completions the simulated endpoints delivered whole


def _run(
    config_path: Path,
    judge: str,
    start: dt.date,
    end: dt.date,
    regression: dt.date,
    keep: bool,
    days: int,
    servers: dict[str, FakeOpenAI],
) -> _Run:
    from flows.backfill import backfill
    from monitor.config import load_settings
    from monitor.demo import setup as demo
    from monitor.store.db import connect
    from monitor.store.migrate import reset_schema, upgrade

    settings = load_settings()
    database = connect(settings)
    console.print(f"[bold]judge-monitor demo[/]  database: {escape(database.where)}")
    _say(f"config: {config_path}")
    _say(
        f"traffic: {days} days ({start} .. {end}), 3,000 searches a day, 120 sampled; "
        f"from {regression} (day {demo.REGRESSION_DAY}) the French locale returns random "
        "playlists"
    )
    if not database.embedded:
        raise InputError(
            f"the demo resets its database and only runs on its own embedded PostgreSQL, "
            f"but the settings point at {database.where}: unset database_url for the demo"
        )
    _intro(judge, servers)
    if not keep:
        reset_schema(database.engine)
    upgrade(database.engine, database.url)
    run = _Run()
    try:
        with progress_display():
            run.outcomes = list(backfill(start=start, end=end))
        if judge == "ensemble":
            from flows.compare import compare
            from monitor.pipeline.metrics_step import compute_day_metrics

            with progress_display():
                run.compared = compare(a="production", b=demo.STAGING, day=end)
            # the pairwise verdicts are the day's position-consistency figures
            compute_day_metrics(database, end, settings)
            run.billed = sum(s.paid_calls for s in servers.values())
    finally:
        database.dispose()
    return run


def _intro(judge: str, servers: dict[str, FakeOpenAI]) -> None:
    if judge == "semantic":
        _say("judge: semantic (all-MiniLM-L6-v2 sentence embeddings, local)\n")
        return
    from monitor.demo import setup as demo

    if judge == "lexical":
        _say("judge: lexical (word overlap, local)")
        console.print(f"[yellow]{escape(demo.LEXICAL_WARNING)}[/]\n")
        return
    from monitor.demo import output
    from monitor.demo.judges import REAL_JUDGE_TOML, SIMULATED_JUDGES

    console.print("\n[bold]Judges[/]: three LLM judges and the lexical judge (ensemble: median)")
    _say(
        "The three LLM judges are SIMULATED: each is an OpenAI-compatible test server on "
        "this machine (monitor/testing/fake_openai.py) that answers from the demo's ground "
        "truth, with a flaw for the monitor to find. Everything on the judges' side is the "
        "real code path: prompts, structured output, the repair round, retries, the verdict "
        "cache, tokens and cost."
    )
    urls = [servers[j.name].base_url for j in SIMULATED_JUDGES if j.name in servers]
    _lines(output.judges_table(SIMULATED_JUDGES, urls))
    _say(
        "To judge with a real model, put its block in place of a simulated judge's in "
        "judge-monitor.toml (and set the variable that holds its key):"
    )
    _lines(["    " + line for line in REAL_JUDGE_TOML.splitlines()])
    _say("")


def _show(
    run: _Run,
    folder: Path,
    config_path: Path,
    judge: str,
    start: dt.date,
    end: dt.date,
    regression: dt.date,
    started: float,
    serve: bool,
) -> None:
    from monitor.config import load_settings
    from monitor.demo import output
    from monitor.demo import setup as demo
    from monitor.export.alerts import firing_alerts
    from monitor.export.exporter import serve_exporter
    from monitor.store.db import connect
    from monitor.store.reads import figure_value

    settings = load_settings()
    database = connect(settings)
    names = [j.name for j in settings.judges]
    llm = [j.name for j in settings.judges if j.kind == "llm"]
    with database.engine.connect() as conn:
        series = demo.ndcg_series(conn, start, end)
        cusum_row = figure_value(conn, day=end, metric="changepoint_start_days_ago", segment="all")
        alerts_by_day = {f.day: firing_alerts(conn, f.day) for f in series}
        judge_days = demo.judge_days(conn, start, end, llm)
        health = demo.judge_health(conn, start, end, names)
    database.dispose()

    if run.outcomes and judge != "ensemble":
        console.print(summary_table(run.outcomes))
    for o in run.outcomes:
        if o.status != "completed":
            _say(f"{o.day}: {o.status}")

    changepoint = end - dt.timedelta(days=int(cusum_row)) if cusum_row is not None else None
    marks: dict[dt.date, str] = {regression: "← R"}
    if changepoint is not None:
        marks[changepoint] = "← R C" if changepoint == regression else "← C"
    console.print("\n[bold]Daily nDCG@10[/] (ensemble grade, all traffic) with its 95% CI")
    _lines(output.text_chart(series, marks=marks))
    _say(f"R: regression injected (day {demo.REGRESSION_DAY})   C: change point (CUSUM)")
    if changepoint is not None:
        off = (changepoint - regression).days
        _say(
            f"change point (CUSUM on daily nDCG@10): shift started on {changepoint} "
            f"({'+' if off >= 0 else ''}{off} days from the injected regression)"
        )
    else:
        _say("change point (CUSUM on daily nDCG@10): none detected")

    if judge == "ensemble":
        console.print("\n[bold]Judges day by day[/]")
        _lines(output.day_table(judge_days))
        _say(
            "alpha: Krippendorff's alpha among all the judges; paid: LLM verdicts paid for "
            "(cache misses); cached: taken from the verdict cache; invalid: not a grade even "
            "after the repair round; cost: what the paid ones cost"
        )
        console.print(f"\n[bold]Judge health[/], {start} .. {end}")
        _lines(output.health_table(health, output.flagged_judges(health)))
        _say(
            "length ρ: Spearman between grade and result length, mean of the daily figures; "
            "position: share of pairwise questions answered alike in both orders"
        )
        for sentence in output.findings(health, judge_days):
            _say(f"• {sentence}")
        if run.compared is not None:
            _compared(run)

    console.print(
        "\n[bold]Alerts that would fire[/] (same conditions as dashboards/prometheus/rules)"
    )
    first_seen: dict[str, tuple[dt.date, str]] = {}
    for day, firing in sorted(alerts_by_day.items()):
        for f in firing:
            where = f.segment if f.judge in ("ensemble", "") else f"{f.segment}, {f.judge}"
            first_seen.setdefault(f"{f.alert} [{where}]", (day, f.severity))
    if not first_seen:
        _say("  none")
    for name, (day, severity) in sorted(first_seen.items(), key=lambda item: item[1][0]):
        _lines([f"  {day}  {severity:<6} {name}"])

    port = settings.exporter_port or _free_port()
    try:
        server, _thread, _ = serve_exporter(settings, port, addr="127.0.0.1")
    except OSError:
        port = _free_port()
        server, _thread, _ = serve_exporter(settings, port, addr="127.0.0.1")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    console.print(
        f"\n[bold]Exporter[/] http://127.0.0.1:{port}/metrics (excerpt; empty labels left "
        "out, values rounded):"
    )
    _lines([f"  {line}" for line in output.exporter_excerpt(body)])
    demo_env = f"JUDGE_MONITOR_CONFIG={config_path} JUDGE_MONITOR_DATA_DIR={folder}"
    _say("\nNext steps:")
    _lines(
        [
            f"  the day-{demo.REGRESSION_DAY} report (then open report.html in a browser):",
            f"    {demo_env} judge-monitor report --date {regression} --html report.html",
            f"  keep the exporter up (then: curl localhost:{settings.exporter_port}/metrics):",
            f"    {demo_env} judge-monitor exporter --port {settings.exporter_port}",
        ]
    )
    if judge == "ensemble":
        _lines(
            [
                "  a real LLM judge: set the variable holding its key, then put the",
                "    [[judges]] block shown above in judge-monitor.toml",
            ]
        )
    else:
        from monitor.demo.judges import REAL_JUDGE_TOML

        _lines(["  a real LLM judge: set the variable holding its key, then add to"])
        _lines(["    judge-monitor.toml:"] + ["      " + ln for ln in REAL_JUDGE_TOML.splitlines()])
    _lines(
        [
            "  the full stack: docker compose up (Postgres, Prefect, worker, exporter,",
            "    Pushgateway, Prometheus, Alertmanager, Grafana)",
        ]
    )
    _say(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    if serve:
        _say(f"exporter serving on :{port}; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    server.shutdown()


def _compared(run: _Run) -> None:
    from monitor.demo import setup as demo

    result = run.compared
    assert result is not None
    win = result.win_rate
    rate = (
        f"{win.value:.2f} [{win.ci_low:.2f}, {win.ci_high:.2f}]"
        if win.value is not None and win.ci_low is not None and win.ci_high is not None
        else "—"
    )
    console.print(
        f"\n[bold]compare[/] production vs {demo.STAGING} (a title-only index) on {result.day}"
    )
    _say(
        f"  {result.queries} queries, each ranking pair shown to every LLM judge in both "
        f"orders: win rate of production {rate}; {result.inconsistent} answers changed with "
        f"the order; cost ${result.cost_usd:.2f}"
    )
    if run.billed:
        _say(
            f"  the simulated endpoints billed {run.billed:,} completions in all (repair "
            "rounds included): what a provider would charge for"
        )
