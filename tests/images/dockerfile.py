"""A small Dockerfile reader for the image tests: instructions, stages, a target's CMD.

It understands what the project's Dockerfile uses: ``#`` comment lines (also inside
continued instructions), ``\\`` line continuations, ``FROM ... AS name`` stages (also built
``FROM`` an earlier stage, and copied from with ``COPY --from=name``), build targets, and the
exec (JSON array) form of CMD/ENTRYPOINT/HEALTHCHECK. It is not a full BuildKit parser
(no heredocs, no ``# escape=`` directive).

The image tests import it::

    from tests.images.dockerfile import dockerfile_cmd, dockerfile_env
    argv = dockerfile_cmd(REPO / "Dockerfile", "web")

Without a target, a function reads the image of the file's last stage (what ``docker build``
makes without ``--target``).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Instruction",
    "build_stage",
    "dockerfile_cmd",
    "dockerfile_copy_sources",
    "dockerfile_env",
    "dockerfile_healthcheck",
    "final_stage",
    "parse_dockerfile",
    "stage_name",
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


def stage_name(stage: list[Instruction]) -> str | None:
    """The stage's name (``FROM image AS name``), lower-cased as Docker matches it, or None."""
    words = stage[0].args.split()
    return words[-1].lower() if len(words) >= 3 and words[-2].lower() == "as" else None


def _stage_index(all_stages: list[list[Instruction]], target: str | None) -> int:
    if target is None:
        return len(all_stages) - 1
    names = [stage_name(stage) for stage in all_stages]
    if target.lower() not in names:
        raise ValueError(f"no stage named {target!r} (stages: {names})")
    return names.index(target.lower())


def _chain(all_stages: list[list[Instruction]], index: int) -> list[Instruction]:
    """The stage at `index` after the earlier stages it builds FROM, root first."""
    names = [stage_name(stage) for stage in all_stages[:index]]
    parent = all_stages[index][0].args.split()[0].lower()
    if parent in names:
        return [*_chain(all_stages, names.index(parent)), *all_stages[index]]
    return list(all_stages[index])


def _copied_from(instructions: list[Instruction]) -> list[str]:
    """The stages that `instructions` copy files from (``COPY --from=name``)."""
    return [
        word.removeprefix("--from=").lower()
        for instruction in instructions
        if instruction.keyword in {"COPY", "ADD"}
        for word in instruction.args.split()
        if word.startswith("--from=")
    ]


def final_stage(path: str | Path, target: str | None = None) -> list[Instruction]:
    """What the image of `target` is made of: its stage after the stages it builds FROM."""
    all_stages = stages(path)
    return _chain(all_stages, _stage_index(all_stages, target))


def build_stage(path: str | Path, target: str | None = None) -> list[Instruction]:
    """The stage the image of `target` copies its files from, after the stages it builds FROM."""
    sources = _copied_from(final_stage(path, target))
    if len(sources) != 1:
        raise ValueError(f"{path}: {target or 'the last stage'} copies from {sources}, not one")
    all_stages = stages(path)
    return _chain(all_stages, _stage_index(all_stages, sources[0]))


def _needed(all_stages: list[list[Instruction]], index: int) -> set[int]:
    """The stages a build of the stage at `index` runs: it, its FROM chain and copy sources."""
    names = [stage_name(stage) for stage in all_stages]
    needed = {index}
    parent = all_stages[index][0].args.split()[0].lower()
    for source in [parent, *_copied_from(all_stages[index])]:
        if source in names[:index]:
            needed |= _needed(all_stages, names.index(source))
    return needed


def _last(path: str | Path, keyword: str, target: str | None) -> Instruction | None:
    found = [i for i in final_stage(path, target) if i.keyword == keyword]
    return found[-1] if found else None


def dockerfile_cmd(path: str | Path, target: str | None = None) -> list[str]:
    """The image's CMD as an argv list; ValueError if missing or in shell form."""
    instruction = _last(path, "CMD", target)
    if instruction is None:
        raise ValueError(f"{path}: the final stage has no CMD")
    argv = instruction.exec_form()
    if not argv:
        raise ValueError(
            f"{path}:{instruction.line}: CMD is not a non-empty exec-form JSON array: "
            f"{instruction.args!r}"
        )
    return argv


def dockerfile_healthcheck(path: str | Path, target: str | None = None) -> list[str] | None:
    """The image's HEALTHCHECK command as an argv list (exec form), else None.

    Options such as ``--interval=30s`` are skipped; ``HEALTHCHECK NONE`` gives None.
    """
    instruction = _last(path, "HEALTHCHECK", target)
    if instruction is None:
        return None
    words = instruction.args.split(None, 1)
    while words and words[0].startswith("--"):
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words or words[0].upper() != "CMD" or len(words) < 2:
        return None
    return _json_array(words[1])


def dockerfile_env(path: str | Path, target: str | None = None) -> dict[str, str]:
    """The ENV of the image (``KEY=value`` pairs or legacy ``KEY value``).

    ``$VAR``/``${VAR}`` references are left as written (e.g. ``PATH=/opt/venv/bin:$PATH``).
    """
    env: dict[str, str] = {}
    for instruction in final_stage(path, target):
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


def dockerfile_copy_sources(path: str | Path, target: str | None = None) -> list[str]:
    """The context paths that COPY/ADD read (instructions with ``--from`` are skipped).

    With a target, only those of the stages its build runs; else those of the whole file.
    """
    all_stages = stages(path)
    if target is None:
        instructions = parse_dockerfile(path)
    else:
        needed = _needed(all_stages, _stage_index(all_stages, target))
        instructions = [i for n in sorted(needed) for i in all_stages[n]]
    sources: list[str] = []
    for instruction in instructions:
        if instruction.keyword not in {"COPY", "ADD"}:
            continue
        argv = instruction.exec_form()
        words = argv if argv is not None else shlex.split(instruction.args)
        if any(word.startswith("--from") for word in words):
            continue
        operands = [word for word in words if not word.startswith("--")]
        sources.extend(operands[:-1])
    return sources
