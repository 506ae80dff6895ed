"""Every public make target installs the tools its recipes run (a fresh clone has none).

Read from make's own database (`make -pqn`: every rule with its prerequisites, every
variable): a rule whose recipe runs uv, or the pinned CDK CLI through npx, must depend,
directly or through its prerequisites, on the rule that installs it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a recipe runs -> the rules that install it (any one of them will do).
INSTALLERS = {
    "uv": {".uv"},
    "npx": {"node_modules/.package-lock.json", ".node-deps"},
}
USES = {
    "uv": re.compile(r"(?<![\w./-])uv(?![\w.=-])"),
    "npx": re.compile(r"(?<![\w./-])npx(?![\w.-])"),
}
PUBLIC = re.compile(r"^\.PHONY: ([a-zA-Z0-9_-]+) +## ", re.MULTILINE)
VARIABLE = re.compile(r"^([A-Za-z0-9_.]+) :?= (.*)$")
RULE = re.compile(r"^([^#\s][^:=]*?)::?(?!=)(.*)$")
REFERENCE = re.compile(r"\$[({]([A-Za-z0-9_.]+)[)}]")


@dataclass
class Rule:
    prerequisites: list[str] = field(default_factory=list)
    recipe: list[str] = field(default_factory=list)


@dataclass
class Database:
    variables: dict[str, str]
    rules: dict[str, Rule]

    def expand(self, text: str) -> str:
        """`text` with every `$(NAME)` replaced by the variable's value, recursively."""
        text = text.replace("$$", "\0")  # the shell's own `$`
        for _ in range(20):
            expanded = REFERENCE.sub(lambda ref: self.variables.get(ref[1], ref[0]), text)
            if expanded == text:
                break
            text = expanded.replace("$$", "\0")
        return text.replace("\0", "$")

    def closure(self, target: str) -> set[str]:
        """Every prerequisite of `target`, transitively."""
        seen: set[str] = set()
        pending = [target]
        while pending:
            for prerequisite in self.rules.get(pending.pop(), Rule()).prerequisites:
                if prerequisite not in seen:
                    seen.add(prerequisite)
                    pending.append(prerequisite)
        return seen


@cache
def database() -> Database:
    """make's database of the root Makefile (nothing is run: -q, -n)."""
    printed = subprocess.run(
        ["make", "-pqn", "--no-print-directory"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    variables_part, _, rest = printed.partition("\n# Files\n")
    files_part = rest.partition("\n# files hash-table stats")[0]
    variables = {
        match[1]: match[2]
        for line in variables_part.splitlines()
        if (match := VARIABLE.match(line))
    }
    rules: dict[str, Rule] = {}
    current: Rule | None = None
    for line in files_part.splitlines():
        if line.startswith("\t") and current is not None:
            current.recipe.append(line[1:])
        elif match := RULE.match(line):
            current = rules.setdefault(match[1].strip(), Rule())
            current.prerequisites += match[2].replace("|", " ").split()
        elif not line.startswith("#"):
            current = None
    return Database(variables, rules)


def public_targets() -> list[str]:
    """The targets `make help` lists."""
    texts = [path.read_text() for path in [REPO_ROOT / "Makefile", *REPO_ROOT.glob("*.mk")]]
    return [target for text in texts for target in PUBLIC.findall(text)]


def uses_without_install(target: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(every (rule, tool) a target's rules run, those whose rule does not install it first)."""
    db = database()
    used, missing = set(), set()
    for rule in {target} | db.closure(target):
        recipe = db.expand("\n".join(db.rules.get(rule, Rule()).recipe))
        for tool, pattern in USES.items():
            if rule in INSTALLERS[tool] or not pattern.search(recipe):
                continue
            used.add((rule, tool))
            if not INSTALLERS[tool] & db.closure(rule):
                missing.add((rule, tool))
    return used, missing


def test_every_public_target_installs_the_tools_its_recipes_run() -> None:
    targets = public_targets()
    checked: dict[str, set[tuple[str, str]]] = {}
    missing: dict[str, set[tuple[str, str]]] = {}
    for target in targets:
        checked[target], missing[target] = uses_without_install(target)

    assert {"run", "synth", "deploy", "bench", "lint"} <= set(targets)
    # The check read the recipes (it cannot pass by finding no tool in them).
    assert {("synth", "uv"), ("synth", "npx"), ("run", "uv")} <= checked["synth"] | checked["run"]
    assert {target: uses for target, uses in missing.items() if uses} == {}
