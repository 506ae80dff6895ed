"""What one check found, how a check is run, and the report `taskqueue verify` prints.

A check is a name and a function that returns a `Verdict` (passed or failed, with its figure)
or raises `NotVerifiableOffline`. Only against a local endpoint (AWS_ENDPOINT_URL) is that
printed as "not verifiable offline"; on AWS every check must run, so it is a failure there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from taskqueue_cli.errors import explain


class Outcome(Enum):
    """How a check ended, as the report prints it."""

    PASS = "PASS"
    FAIL = "FAIL"
    OFFLINE = "not verifiable offline"


class NotVerifiableOffline(Exception):
    """The local endpoint cannot perform this check (its reason is the message)."""


@dataclass(frozen=True)
class Verdict:
    """A check's answer: whether it held, its figure, and what else to know."""

    ok: bool
    figure: str
    detail: str = ""


def passed(figure: str, detail: str = "") -> Verdict:
    """The check held."""
    return Verdict(True, figure, detail)


def failed(figure: str, detail: str = "") -> Verdict:
    """The check did not hold."""
    return Verdict(False, figure, detail)


@dataclass(frozen=True)
class Result:
    """One line of the report."""

    name: str
    outcome: Outcome
    figure: str
    detail: str = ""


Check = tuple[str, Callable[[], Verdict]]


def run_check(check: Check, *, offline: bool) -> Result:
    """Run one check; an expected error is its failure, never a traceback."""
    name, function = check
    try:
        verdict = function()
    except NotVerifiableOffline as reason:
        if offline:
            return Result(name, Outcome.OFFLINE, str(reason))
        return Result(name, Outcome.FAIL, f"could not run on AWS: {reason}")
    except Exception as error:
        message = explain(error)
        if message is None:
            raise
        return Result(name, Outcome.FAIL, message)
    return Result(
        name, Outcome.PASS if verdict.ok else Outcome.FAIL, verdict.figure, verdict.detail
    )


def render(result: Result, name_width: int) -> list[str]:
    """One check's line (name, outcome, figure), and its detail indented below it."""
    outcome_width = max(len(outcome.value) for outcome in Outcome)
    lines = [
        f"{result.name:<{name_width}}  {result.outcome.value:<{outcome_width}}  {result.figure}"
    ]
    if result.detail:
        lines.append(f"{'':<{name_width}}  {'':<{outcome_width}}  {result.detail}")
    return [line.rstrip() for line in lines]


def summary(results: Iterable[Result]) -> str:
    """The last line: how many checks passed, failed, and could not run offline."""
    counts = Counter(result.outcome for result in results)
    line = f"{counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed"
    if counts[Outcome.OFFLINE]:
        line += f", {counts[Outcome.OFFLINE]} not verifiable offline"
    return line


def exit_code(results: Iterable[Result]) -> int:
    """1 if any check failed, else 0 (a check not verifiable offline is not a failure)."""
    return int(any(row.outcome is Outcome.FAIL for row in results))
