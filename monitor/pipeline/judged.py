"""What judging a day did, and what that means for the run.

``JudgeOutcome`` holds each judge's tally (paid, cached, invalid, failed calls and their
causes) for the day; ``raise_for_judging`` fails the run when a judge failed as a whole
or more than ``max_failed_call_share`` of its calls failed, and ``failed_calls_note`` is
the one line a run that completed despite a few failed calls (``degraded``) records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.errors import JudgeError
from monitor.judging.cache import JudgeTally, max_failed_for

__all__ = ["JudgeOutcome", "failed_calls_note", "raise_for_judging"]


@dataclass
class JudgeOutcome:
    """What judging a day did: per-judge tallies, rows stored, endpoint failures."""

    tallies: dict[str, JudgeTally]
    verdicts_stored: int
    items: int
    errors: list[str] = field(default_factory=list)
    #: ensemble rows graded by fewer judges than the ensemble has (failed or invalid)
    partial_ensemble: int = 0

    @property
    def paid(self) -> int:
        return sum(t.paid for t in self.tallies.values())

    @property
    def failed(self) -> int:
        """Items left without a verdict by a failed call, over all judges."""
        return sum(t.failed for t in self.tallies.values())

    @property
    def cached(self) -> int:
        return sum(t.cached for t in self.tallies.values())

    @property
    def invalid(self) -> int:
        return sum(t.invalid for t in self.tallies.values())

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.tallies.values())


def raise_for_judging(outcome: JudgeOutcome, max_failed_share: float = 0.0) -> None:
    """Fail the run if a judge failed as a whole, or more than ``max_failed_share`` of a
    judge's calls failed (what was answered is kept either way, and cached).

    One line: each failing judge, its count of failed calls and its first cause.
    """
    problems = list(outcome.errors)
    limit = max_failed_for(max_failed_share, outcome.items) or 0
    for name, tally in outcome.tallies.items():
        if tally.failed > limit:
            dropped = f", {tally.not_asked} of them not asked" if tally.not_asked else ""
            problems.append(
                f"judge {name!r}: {tally.failed} of {outcome.items} calls failed{dropped} "
                f"(more than max_failed_call_share {max_failed_share:g} allows)"
                + _first_cause(name, tally)
            )
    if problems:
        raise JudgeError("; ".join(problems))


def failed_calls_note(outcome: JudgeOutcome) -> str | None:
    """One line on the failed calls of a run that completed despite them, or None."""
    parts = [
        f"judge {name!r}: {tally.failed} of {outcome.items} calls failed"
        + _first_cause(name, tally)
        for name, tally in outcome.tallies.items()
        if tally.failed
    ]
    return "; ".join(parts) if parts else None


def _first_cause(name: str, tally: JudgeTally) -> str:
    """ ": <the first cause>", without the judge's name it repeats, or ""."""
    if not tally.failures:
        return ""
    cause = tally.failures[0]
    return ": " + cause.removeprefix(f"judge {name!r}: ")
