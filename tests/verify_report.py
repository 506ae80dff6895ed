"""Reading `taskqueue verify`'s report in a test: each check's name and outcome."""

from __future__ import annotations

import re

# A check's line: its name, two or more spaces, its outcome (a detail line starts with spaces).
CHECK_LINE = re.compile(r"(?P<name>\S.*?) {2,}(?P<outcome>PASS|FAIL|not verifiable offline)\b")


def outcomes(report: str) -> dict[str, str]:
    """Check name -> PASS, FAIL or `not verifiable offline`, from the printed report."""
    found = {}
    for line in report.splitlines():
        if match := CHECK_LINE.match(line):
            found[match["name"]] = match["outcome"]
    return found


def named(found: dict[str, str], outcome: str) -> set[str]:
    """The names of the checks that ended with `outcome`."""
    return {name for name, result in found.items() if result == outcome}
