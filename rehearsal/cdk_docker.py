"""The CDK CLI's `docker`, played by buildah and podman (`CDK_DOCKER` points here).

The CLI (cdk-assets) runs these commands for an image asset; each is mapped, none guessed:

- ``login --username U --password-stdin ENDPOINT``: recorded (no registry here).
- ``inspect TAG``: whether the local image exists (exit 1 when not, as Docker answers).
- ``build ... .``: ``buildah bud`` with exactly the CLI's ``--build-arg``, ``--file``,
  ``--target``, ``--platform``, ``--network`` and ``--no-cache``, in the directory the CLI
  runs it in (the staged asset). The CLI's ``--tag cdkasset-<hash>`` becomes the local
  image ``localhost/rehearse-cdkasset-<hash>``. An option the CLI passes that this wrapper
  cannot honour (secrets, ssh, build contexts, outputs, cache import/export) fails the
  build instead of being dropped.
- ``tag SRC DST`` and ``push DST``: recorded in the log the runner reads to find the image
  of a deployed task definition (DST is the ECR image URI the template names).
- ``images --filter reference=*/*:TAG``: the recorded URIs with that tag.

Two local necessities are added to every build, both printed: the host's CA bundle mounted
into RUN steps (a TLS-intercepting proxy) and ``--build-arg PYTHON_IMAGE=<local base>``
when the CLI passes no ``PYTHON_IMAGE`` (the Dockerfile's default, python:3.11-slim, would
be pulled from Docker Hub; the local base is made by containers/base-image.sh).

Environment: ``REHEARSAL_STATE`` (directory of ``docker.jsonl``), ``REHEARSAL_PYTHON_IMAGE``
(default ``localhost/python-base:3.11``), and the engine settings of images.mk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DEFAULT_PYTHON_IMAGE = "localhost/python-base:3.11"
LOCAL_PREFIX = "localhost/rehearse-"
LOG_NAME = "docker.jsonl"
# Docker's "no such object" exit code, which cdk-assets reads as "not built yet".
NOT_FOUND = 1


class Unsupported(SystemExit):
    """A docker command or option this wrapper cannot rehearse faithfully."""

    def __init__(self, what: str) -> None:
        super().__init__(f"rehearsal CDK_DOCKER: {what} is not rehearsed (see rehearsal/)")


def local_image(tag: str) -> str:
    """The local image name of the CLI's tag (`cdkasset-<hash>`)."""
    return f"{LOCAL_PREFIX}{tag}"


def log_path() -> Path:
    """The record of every command, one JSON object a line."""
    return Path(os.environ["REHEARSAL_STATE"]) / LOG_NAME


def record(entry: dict[str, Any]) -> None:
    """Append one command to the log."""
    with log_path().open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def recorded(command: str) -> list[dict[str, Any]]:
    """Every logged entry of `command`."""
    path = log_path()
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [entry for entry in entries if entry["command"] == command]


def image_exists(image: str) -> bool:
    """Whether podman's storage holds `image`."""
    return subprocess.run(["podman", "image", "exists", image], check=False).returncode == 0


def build_parser() -> argparse.ArgumentParser:
    """The `docker build` options cdk-assets may pass (cdk-assets-lib, docker.ts)."""
    parser = argparse.ArgumentParser(prog="docker build", add_help=False)
    parser.add_argument("--build-arg", action="append", default=[])
    parser.add_argument("--tag", required=True)
    parser.add_argument("--target")
    parser.add_argument("--file")
    parser.add_argument("--network")
    parser.add_argument("--platform")
    parser.add_argument("--no-cache", action="store_true")
    for unsupported in ("--build-context", "--secret", "--ssh", "--output", "--cache-from"):
        parser.add_argument(unsupported, action="append", default=[])
    parser.add_argument("--cache-to")
    parser.add_argument("context")
    return parser


def buildah_command(args: argparse.Namespace, python_image: str) -> list[str]:
    """`buildah bud` for the CLI's `docker build` arguments."""
    for option in ("build_context", "secret", "ssh", "output", "cache_from"):
        if getattr(args, option):
            raise Unsupported(f"docker build --{option.replace('_', '-')}")
    if args.cache_to:
        raise Unsupported("docker build --cache-to")
    build_args = list(args.build_arg)
    if not any(arg.split("=", 1)[0] == "PYTHON_IMAGE" for arg in build_args):
        build_args.append(f"PYTHON_IMAGE={python_image}")
    command = [
        "buildah",
        "bud",
        # The Docker format keeps HEALTHCHECK (OCI has no such field); no cached steps (with
        # vfs each is a full copy), as containers/build_images.py builds.
        "--format=docker",
        "--layers=false",
        f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro",
        # RUN steps on the host's network unless the asset names one: a bridge would change
        # the host's firewall (containers/containers.conf).
        f"--network={args.network or 'host'}",
        *(f"--build-arg={arg}" for arg in build_args),
        f"--tag={local_image(args.tag)}",
    ]
    if args.file:
        command.append(f"--file={args.file}")
    if args.target:
        command.append(f"--target={args.target}")
    if args.platform:
        command.append(f"--platform={args.platform}")
    if args.no_cache:
        command.append("--no-cache")
    return [*command, args.context]


def build(argv: Sequence[str]) -> int:
    """`docker build`: buildah in the CLI's working directory (the staged asset)."""
    args = build_parser().parse_args(argv)
    python_image = os.environ.get("REHEARSAL_PYTHON_IMAGE", DEFAULT_PYTHON_IMAGE)
    command = buildah_command(args, python_image)
    print("rehearsal CDK_DOCKER:", " ".join(command), flush=True)
    record({"command": "build", "argv": list(argv), "buildah": command, "cwd": os.getcwd()})
    return subprocess.run(command, check=False).returncode


def tag(source: str, target: str) -> int:
    """`docker tag`: the built image now stands for the ECR URI `target`."""
    if not image_exists(local_image(source)):
        print(f"Error: No such image: {source}", file=sys.stderr)
        return NOT_FOUND
    record({"command": "tag", "source": source, "image": local_image(source), "target": target})
    return 0


def push(target: str) -> int:
    """`docker push`: recorded; the image must have been tagged as `target`."""
    if not any(entry["target"] == target for entry in recorded("tag")):
        print(f"Error: An image does not exist locally with the tag: {target}", file=sys.stderr)
        return NOT_FOUND
    record({"command": "push", "target": target})
    return 0


def inspect(name: str) -> int:
    """`docker inspect`: a built asset or a tagged URI exists; anything else does not."""
    tagged = any(entry["target"] == name for entry in recorded("tag"))
    return 0 if tagged or image_exists(local_image(name)) else NOT_FOUND


def images(argv: Sequence[str]) -> int:
    """`docker images --filter reference=*/*:TAG`: the URIs tagged with TAG."""
    wanted = next((a.split(":")[-1] for a in argv if a.startswith("reference=")), None)
    for entry in recorded("tag"):
        if wanted is not None and entry["target"].rsplit(":", 1)[-1] == wanted:
            print(entry["target"])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch one docker command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--config"]:  # cdk-assets' credential-helper config: not used here
        args = args[2:]
    if not args:
        raise Unsupported("docker without a command")
    command, rest = args[0], args[1:]
    if command == "build":
        return build(rest)
    if command == "tag" and len(rest) == 2:
        return tag(rest[0], rest[1])
    if command == "push" and len(rest) == 1:
        return push(rest[0])
    if command == "inspect" and len(rest) == 1:
        return inspect(rest[0])
    if command == "images":
        return images(rest)
    if command == "login":
        sys.stdin.read()  # the ECR token: not kept
        record({"command": "login", "endpoint": rest[-1] if rest else ""})
        return 0
    raise Unsupported(f"docker {command}")


if __name__ == "__main__":
    sys.exit(main())
