"""containers/build_images.py: each image asset is built from the one Dockerfile's target."""

from __future__ import annotations

import json
from pathlib import Path

from containers import build_images

BASE = "localhost/python-base:3.11"


def write_assets(cdk_out: Path) -> None:
    """An assets manifest as `cdk synth` writes it for the two services (no dockerFile: the
    default `Dockerfile` of the staged context)."""
    images = {
        f"{target}hash": {
            "source": {
                "directory": f"asset.{target}hash",
                "dockerBuildTarget": target,
                "platform": "linux/amd64",
            },
            "destinations": {},
        }
        for target in ("worker", "web")
    }
    cdk_out.mkdir()
    (cdk_out / "taskqueue-dev.assets.json").write_text(json.dumps({"dockerImages": images}))


def test_each_asset_is_the_image_of_its_target(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    write_assets(cdk_out)
    assets = build_images.image_assets(cdk_out)
    assert [asset.service for asset in assets] == ["web", "worker"]

    for asset in assets:
        command = build_images.build_command(asset, BASE, [f"taskqueue-{asset.service}:local"])
        assert f"--target={asset.service}" in command
        assert f"--file={cdk_out / f'asset.{asset.service}hash' / 'Dockerfile'}" in command
        assert f"--build-arg=PYTHON_IMAGE={BASE}" in command
        assert command[-1] == str(cdk_out / f"asset.{asset.service}hash")
