"""Both images keep /tmp writable for uid 10001 under Fargate's bind-mount semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.images.dockerfile import final_stage

REPO = Path(__file__).resolve().parents[2]


def runtime_stage(service: str) -> list[str]:
    """The instructions the service's image is made of (its target and the stages it builds
    on), continuation lines joined."""
    return [f"{i.keyword} {i.args}" for i in final_stage(REPO / "Dockerfile", service)]


@pytest.mark.parametrize("service", ["web", "worker"])
def test_the_runtime_stage_declares_a_world_writable_tmp_volume(service: str) -> None:
    stage = runtime_stage(service)
    # Fargate copies a VOLUME's directory into the task volume mounted there; without one,
    # the mount is a root-owned 0755 directory that uid 10001 cannot write.
    assert "VOLUME /tmp" in stage or 'VOLUME ["/tmp"]' in stage
    assert any(line.startswith("RUN ") and "1777 /tmp" in line for line in stage)
