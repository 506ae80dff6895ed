"""A small Dockerfile reader for the image tests: instructions, stages, the final CMD.

It understands what the project's Dockerfiles use: ``#`` comment lines (also inside
continued instructions), ``\\`` line continuations, ``FROM ... AS name`` stages and the
exec (JSON array) form of CMD/ENTRYPOINT/HEALTHCHECK. It is not a full BuildKit parser
(no heredocs, no ``# escape=`` directive).

The image tests import it::

    from tests.images.dockerfile import dockerfile_cmd, dockerfile_env
    argv = dockerfile_cmd(REPO / "services/web/Dockerfile")
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Instruction",
    "dockerfile_cmd",
    "dockerfile_copy_sources",
    "dockerfile_env",
    "dockerfile_healthcheck",
    "final_stage",
    "parse_dockerfile",
    "stages",
]


@dataclass(frozen=True)
class Instruction:
    """One instruction: upper-cased keyword, its raw argument text, 1-based line."""

    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON-array argument list, or None when the instruction is in shell form."""
        return _json_array(self.args)


def _json_array(text: str) -> list[str] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return value


def parse_dockerfile(path: str | Path) -> list[Instruction]:
    """All instructions of the Dockerfile at ``path``, continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # comments (and parser directives) are dropped, even mid-instruction
        if not pending and not stripped:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        text = " ".join(part for part in pending if part)
        pending = []
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    if pending:
        text = " ".join(part for part in pending if part)
        keyword, _, args = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    return instructions


def stages(path: str | Path) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM (global ARGs before the first are dropped)."""
    result: list[list[Instruction]] = []
    for instruction in parse_dockerfile(path):
        if instruction.keyword == "FROM":
            result.append([instruction])
        elif result:
            result[-1].append(instruction)
    if not result:
        raise ValueError(f"{path}: no FROM instruction")
    return result


def final_stage(path: str | Path) -> list[Instruction]:
    """The instructions of the last stage: what the built image is made of."""
    return stages(path)[-1]


def _last(path: str | Path, keyword: str) -> Instruction | None:
    found = [i for i in final_stage(path) if i.keyword == keyword]
    return found[-1] if found else None


def dockerfile_cmd(path: str | Path) -> list[str]:
    """The final stage's CMD as an argv list; ValueError if missing or in shell form."""
    instruction = _last(path, "CMD")
    if instruction is None:
        raise ValueError(f"{path}: the final stage has no CMD")
    argv = instruction.exec_form()
    if not argv:
        raise ValueError(
            f"{path}:{instruction.line}: CMD is not a non-empty exec-form JSON array: "
            f"{instruction.args!r}"
        )
    return argv


def dockerfile_healthcheck(path: str | Path) -> list[str] | None:
    """The final stage's HEALTHCHECK command as an argv list (exec form), else None.

    Options such as ``--interval=30s`` are skipped; ``HEALTHCHECK NONE`` gives None.
    """
    instruction = _last(path, "HEALTHCHECK")
    if instruction is None:
        return None
    words = instruction.args.split(None, 1)
    while words and words[0].startswith("--"):
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words or words[0].upper() != "CMD" or len(words) < 2:
        return None
    return _json_array(words[1])


def dockerfile_env(path: str | Path) -> dict[str, str]:
    """The ENV of the final stage (``KEY=value`` pairs or legacy ``KEY value``).

    ``$VAR``/``${VAR}`` references are left as written (e.g. ``PATH=/opt/venv/bin:$PATH``).
    """
    env: dict[str, str] = {}
    for instruction in final_stage(path):
        if instruction.keyword != "ENV":
            continue
        words = shlex.split(instruction.args, posix=True)
        if words and "=" not in words[0]:
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def dockerfile_copy_sources(path: str | Path) -> list[str]:
    """The context paths that COPY/ADD read (instructions with ``--from`` are skipped)."""
    sources: list[str] = []
    for instruction in parse_dockerfile(path):
        if instruction.keyword not in {"COPY", "ADD"}:
            continue
        argv = instruction.exec_form()
        words = argv if argv is not None else shlex.split(instruction.args)
        if any(word.startswith("--from") for word in words):
            continue
        operands = [word for word in words if not word.startswith("--")]
        sources.extend(operands[:-1])
    return sources
