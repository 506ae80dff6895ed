"""Build the container images from the assets `cdk synth` staged, as `cdk deploy` would.

    python containers/build_images.py --cdk-out cdk.out --base localhost/python-base:3.11

Every ``dockerImages`` entry of ``<cdk-out>/*.assets.json`` is built with buildah from its
staged directory, Dockerfile and target (exactly what cdk-assets hands to ``docker build``),
with the local base image as ``PYTHON_IMAGE``, and tagged ``localhost/taskqueue-<target>``
``:local`` (what docker-compose.yml names) and ``:<asset hash>-<base id>``. An image whose
second tag exists is not built again: the asset hash covers the context, the Dockerfile and
the target.

Needs buildah and podman with CONTAINERS_CONF/CONTAINERS_STORAGE_CONF set (images.mk).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# The host's CA bundle, mounted read-only into every RUN step: outbound HTTPS may be
# intercepted by a proxy with its own CA. A RUN mount is never committed to the image.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IMAGE_PREFIX = "localhost/taskqueue-"
# What cdk-assets passes to `docker build` that this builder maps (anything else: refuse).
KNOWN_SOURCE_KEYS = {"directory", "dockerFile", "dockerBuildArgs", "dockerBuildTarget", "platform"}


@dataclass(frozen=True)
class ImageAsset:
    """One container image asset of a synthesized cloud assembly."""

    asset_hash: str
    context: Path
    dockerfile: str
    build_args: dict[str, str]
    target: str | None
    platform: str | None = None
    """The asset's `linux/amd64` or `linux/arm64` (the stack's cpuArchitecture)."""

    @property
    def service(self) -> str:
        """The Dockerfile's target names the service (`web`, `worker`)."""
        if not self.target:
            raise SystemExit(f"image asset {self.asset_hash} names no Dockerfile target")
        return self.target


def image_assets(cdk_out: Path) -> list[ImageAsset]:
    """Every container image asset in the `*.assets.json` manifests of `cdk_out`."""
    assets: dict[str, ImageAsset] = {}
    for manifest in sorted(cdk_out.glob("*.assets.json")):
        images = json.loads(manifest.read_text(encoding="utf-8")).get("dockerImages", {})
        for asset_hash, entry in images.items():
            source = entry["source"]
            unknown = set(source) - KNOWN_SOURCE_KEYS
            if unknown:
                raise SystemExit(f"{manifest}: image {asset_hash} uses {sorted(unknown)}")
            assets[asset_hash] = ImageAsset(
                asset_hash=asset_hash,
                context=cdk_out / source["directory"],
                dockerfile=source.get("dockerFile", "Dockerfile"),
                build_args=dict(source.get("dockerBuildArgs", {})),
                target=source.get("dockerBuildTarget"),
                platform=source.get("platform"),
            )
    if not assets:
        raise SystemExit(f"no container image assets in {cdk_out}/*.assets.json: run cdk synth")
    return sorted(assets.values(), key=lambda asset: asset.service)


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    """Run podman, capturing its output."""
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


def image_id(image: str) -> str:
    """The image's ID; fails when it does not exist."""
    result = podman("image", "inspect", "--format", "{{.Id}}", image)
    if result.returncode != 0:
        raise SystemExit(f"image {image} not found: {result.stderr.strip()}")
    return result.stdout.strip()


def build_command(asset: ImageAsset, base: str, tags: list[str]) -> list[str]:
    """`buildah bud` for one asset, the way this machine can run it."""
    command = [
        "buildah",
        "bud",
        # RUN steps are runc containers, as with Docker, on the host's network: a bridge
        # would change the host's firewall.
        "--network=host",
        # The OCI format has no HEALTHCHECK field; the Docker format keeps it.
        "--format=docker",
        # No cached build steps (with vfs each would be a full copy of the file system: 5 GB);
        # the uv cache mount makes a rebuild after a source change take ~15 s anyway.
        "--layers=false",
        f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro",
        f"--build-arg=PYTHON_IMAGE={base}",
        f"--file={asset.context / asset.dockerfile}",
    ]
    command += [f"--build-arg={key}={value}" for key, value in asset.build_args.items()]
    if asset.target:
        command.append(f"--target={asset.target}")
    if asset.platform:
        command.append(f"--platform={asset.platform}")
    command += [f"--tag={tag}" for tag in tags]
    return [*command, str(asset.context)]


def remove_other_tags(name: str, keep: set[str]) -> None:
    """Untag (and so delete) the images of earlier assets of `name`: one image per service."""
    listing = podman("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name)
    for tag in set(listing.stdout.split()) - keep:
        podman("rmi", tag)


def build(asset: ImageAsset, base: str, base_id: str) -> str:
    """Build the asset's image unless it is cached; return its `:local` tag."""
    name = f"{IMAGE_PREFIX}{asset.service}"
    local, pinned = f"{name}:local", f"{name}:{asset.asset_hash}-{base_id[:12]}"
    if podman("image", "exists", pinned).returncode == 0:
        subprocess.run(["podman", "tag", pinned, local], check=True)
        print(f"{local}: cached ({pinned})", flush=True)
    else:
        print(
            f"{local}: building {asset.dockerfile} --target={asset.target} from {asset.context}",
            flush=True,
        )
        started = time.monotonic()
        subprocess.run(build_command(asset, base, [local, pinned]), check=True)
        print(f"{local}: built in {time.monotonic() - started:.0f}s", flush=True)
    remove_other_tags(name, {local, pinned})
    return local


def main(argv: list[str] | None = None) -> None:
    """Build every image asset of the cloud assembly."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--base", default="localhost/python-base:3.11")
    args = parser.parse_args(argv)
    base_id = image_id(args.base)
    try:
        built = [build(asset, args.base, base_id) for asset in image_assets(args.cdk_out)]
    except subprocess.CalledProcessError as error:
        sys.exit(f"build failed: {' '.join(error.cmd)}")
    for image in [args.base, *built]:
        size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
        print(f"{image}\t{size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
