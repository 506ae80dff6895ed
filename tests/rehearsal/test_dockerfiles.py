"""Both images keep /tmp writable for uid 10001 under Fargate's bind-mount semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def runtime_stage(service: str) -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = (REPO / "services" / service / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


@pytest.mark.parametrize("service", ["web", "worker"])
def test_the_runtime_stage_declares_a_world_writable_tmp_volume(service: str) -> None:
    stage = runtime_stage(service)
    # Fargate copies a VOLUME's directory into the task volume mounted there; without one,
    # the mount is a root-owned 0755 directory that uid 10001 cannot write.
    assert "VOLUME /tmp" in stage or 'VOLUME ["/tmp"]' in stage
    assert any(line.startswith("RUN ") and "1777 /tmp" in line for line in stage)
