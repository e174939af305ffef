"""``judge-monitor demo``: the whole service on this machine, in about a minute."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import urllib.request
from pathlib import Path

import typer
from rich.markup import escape

from monitor.cli._prefect import quiet_prefect
from monitor.cli._progress import progress_display
from monitor.cli.app import app, console
from monitor.cli.run import summary_table
from monitor.errors import InputError

__all__ = ["demo_command"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        "auto", "--judge", help="auto (semantic when installed), semantic or lexical."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Backfill 21 days of demo traffic with a regression on day 15, and show what is seen."""
    started = time.monotonic()
    quiet_prefect(verbose)
    from monitor.demo import setup as demo

    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=demo.DEMO_DAYS - 1)
    regression = start + dt.timedelta(days=demo.REGRESSION_DAY - 1)
    if judge not in ("auto", "semantic", "lexical"):
        raise InputError(f"--judge must be auto, semantic or lexical, got {judge!r}")
    semantic = demo.semantic_available() if judge == "auto" else judge == "semantic"
    folder = demo.demo_data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "judge-monitor.toml"
    config_path.write_text(demo.to_toml(demo.demo_config(end, semantic=semantic)))
    os.environ["JUDGE_MONITOR_CONFIG"] = str(config_path)
    os.environ["JUDGE_MONITOR_DATA_DIR"] = str(folder)
    for key in list(os.environ):  # settings match names case-insensitively
        if key.casefold() in ("database_url", "judge_monitor_database_url"):
            del os.environ[key]

    from flows.backfill import backfill
    from monitor.config import load_settings
    from monitor.export.alerts import firing_alerts
    from monitor.export.exporter import serve_exporter
    from monitor.store.db import connect
    from monitor.store.migrate import reset_schema, upgrade
    from monitor.store.reads import figure_value

    settings = load_settings()
    database = connect(settings)
    console.print(f"[bold]judge-monitor demo[/]  database: {database.where}")
    console.print(f"config: {config_path}")
    if semantic:
        console.print("judge: semantic (all-MiniLM-L6-v2 sentence embeddings, local)")
    else:
        console.print("judge: lexical (word overlap, local)")
        console.print(f"[yellow]{demo.LEXICAL_WARNING}[/]")
    console.print(
        f"traffic: {demo.DEMO_DAYS} days ({start} .. {end}), 3,000 searches a day, 120 sampled; "
        f"from {regression} (day {demo.REGRESSION_DAY}) the French locale returns random "
        "playlists\n"
    )
    if not database.embedded:
        raise InputError(
            f"the demo resets its database and only runs on its own embedded PostgreSQL, "
            f"but the settings point at {database.where}: unset database_url for the demo"
        )
    if not keep:
        reset_schema(database.engine)
    upgrade(database.engine, database.url)

    with progress_display():
        outcomes = backfill(start=start, end=end)
    if outcomes:
        console.print(summary_table(outcomes))

    with database.engine.connect() as conn:
        series = demo.ndcg_series(conn, start, end)
        cusum_row = figure_value(conn, day=end, metric="changepoint_start_days_ago", segment="all")
        alerts_by_day = {f.day: firing_alerts(conn, f.day) for f in series}
    database.dispose()

    changepoint = end - dt.timedelta(days=int(cusum_row)) if cusum_row is not None else None
    marks = {regression: "← regression injected"}
    if changepoint is not None:
        marks[changepoint] = (marks.get(changepoint, "") + "  ← change point").strip()
    console.print("\n[bold]Daily nDCG@10 (ensemble, all traffic) with 95% CI[/]")
    for line in demo.text_chart(series, marks=marks):
        console.print(line, highlight=False)
    if changepoint is not None:
        off = (changepoint - regression).days
        console.print(
            f"\nchange point (CUSUM on daily nDCG@10): shift started on {changepoint} "
            f"({'+' if off >= 0 else ''}{off} days from the injected regression)"
        )
    else:
        console.print("\nchange point (CUSUM on daily nDCG@10): none detected")
    console.print(
        "\n[bold]Alerts that would fire[/] (same conditions as dashboards/prometheus/rules)"
    )
    first_seen: dict[str, tuple[dt.date, str]] = {}
    for day, firing in sorted(alerts_by_day.items()):
        for f in firing:
            first_seen.setdefault(f"{f.alert} [{f.segment}]", (day, f.severity))
    if not first_seen:
        console.print("  none")
    for name, (day, severity) in sorted(first_seen.items(), key=lambda item: item[1][0]):
        console.print(f"  {day}  {severity:<6} {escape(name)}")

    port = settings.exporter_port or _free_port()
    try:
        server, _thread, _ = serve_exporter(settings, port, addr="127.0.0.1")
    except OSError:
        port = _free_port()
        server, _thread, _ = serve_exporter(settings, port, addr="127.0.0.1")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    shown = [
        line
        for line in body.splitlines()
        if (
            line.startswith(
                ("judge_monitor_ndcg{", "judge_monitor_up ", "judge_monitor_changepoint_cusum{")
            )
            and 'segment="all"' in line
        )
        or line.startswith("judge_monitor_up ")
    ]
    console.print(f"\n[bold]Exporter[/] http://127.0.0.1:{port}/metrics (excerpt):")
    for line in shown[:6]:
        console.print(f"  {line}", highlight=False)
    console.print(  # plain text: [[judges]] is TOML, not rich markup
        "\nNext steps:\n"
        f"  keep the exporter up:   JUDGE_MONITOR_CONFIG={config_path} "
        f"JUDGE_MONITOR_DATA_DIR={folder} judge-monitor exporter --port {settings.exporter_port}\n"
        "                          then: curl localhost:"
        f"{settings.exporter_port}/metrics\n"
        "  add an LLM judge:       export OPENAI_API_KEY=…, then in judge-monitor.toml:\n"
        '                          [[judges]] name = "gpt" kind = "llm" model = "gpt-4o-mini"\n'
        '                          (or base_url = "http://localhost:11434/v1" for a local '
        "Ollama/vLLM)\n"
        "  the full stack:         docker compose up   (Postgres, Prefect, worker, exporter,\n"
        "                          Pushgateway, Prometheus, Alertmanager, Grafana)",
        markup=False,  # [[judges]] is TOML, not rich markup
    )
    console.print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    if serve:
        console.print(f"exporter serving on :{port}; Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    server.shutdown()
