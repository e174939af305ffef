"""``judge-monitor compare``: two rankers on the same queries, with CIs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from monitor.cli._prefect import quiet_prefect
from monitor.cli._progress import progress_display
from monitor.cli.app import app, console
from monitor.cli.run import past_day, preflight

if TYPE_CHECKING:
    from rich.table import Table

    from monitor.pipeline.compare import CompareResult

__all__ = ["compare_command"]


def _fmt(est: object) -> str:
    value = getattr(est, "value", None)
    if value is None:
        return f"— ({getattr(est, 'reason', '')})"
    return f"{value:.3f}  [{est.ci_low:.3f}, {est.ci_high:.3f}]"  # type: ignore[attr-defined]


def compare_table(result: CompareResult, *, a: str, b: str, day: dt.date) -> Table:
    """The comparison's figures, one per line; fits 80 columns, no name cut."""
    from monitor.report.table import compact_table

    a, b = escape(a), escape(b)
    table = compact_table(title=f"{a} vs {b} on {day} ({result.queries} queries)")
    table.add_column("figure")
    table.add_column("value  [95% CI]", no_wrap=True)
    table.add_row(f"win rate of {a} ({result.pairwise_source})", _fmt(result.win_rate))
    table.add_row("wins / ties / losses", f"{result.wins} / {result.ties} / {result.losses}")
    table.add_row(f"nDCG@10 {a}", _fmt(result.ndcg_a))
    table.add_row(f"nDCG@10 {b}", _fmt(result.ndcg_b))
    table.add_row(f"nDCG@10 {a} − {b}", _fmt(result.ndcg_diff))
    table.add_row("position-inconsistent pairs", str(result.inconsistent))
    if result.missing_in_b:
        table.add_row(f"sampled queries missing in {b}", str(result.missing_in_b))
    return table


@app.command("compare")
def compare_command(
    # help text is rich markup: "\\[" keeps a literal bracket
    a: str = typer.Option(..., "--a", help="Ranker A: 'production' or a \\[rankers.NAME]."),
    b: str = typer.Option(..., "--b", help="Ranker B: 'production' or a \\[rankers.NAME]."),
    date: str | None = typer.Option(None, "--date", help="Day of traffic (default yesterday)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Judge two rankers on the same sampled queries: win rate and nDCG@10 difference."""
    quiet_prefect(verbose)
    from flows.compare import compare

    day = past_day(date)
    preflight()
    with progress_display():
        result = compare(a=a, b=b, day=day)
    console.print(compare_table(result, a=a, b=b, day=day))
    if result.win_rate.ci_low is not None and result.win_rate.ci_high is not None:
        if result.win_rate.ci_low > 0.5:
            console.print(f"[green]{escape(a)} is better[/]: its win rate's CI is above 50%")
        elif result.win_rate.ci_high < 0.5:
            console.print(f"[red]{escape(b)} is better[/]: {escape(a)}'s win rate CI is below 50%")
        else:
            console.print("no significant difference: the win rate's CI contains 50%")
