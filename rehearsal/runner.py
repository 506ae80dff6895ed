"""Run a deployed service's tasks as podman containers, the way Fargate runs them.

Everything comes from the task definition (`rehearsal.deployed`), nothing from a Dockerfile or
a hand-picked flag; where the image decides on Fargate too (no `command`, `entryPoint` or
`user` in the task definition), the image decides here. Per task:

- one network namespace of its own (awsvpc: the task's containers share it; slirp4netns,
  which reaches the host's loopback, so the local endpoint, as 10.0.2.2), each
  `portMappings` port published on 127.0.0.1 at a free port;
- volumes with Fargate's bind-mount semantics: a volume with no host is a fresh directory
  owned by root, mode 0755, unless the image declares a `VOLUME` at the mount path, in which
  case a fresh podman volume is used, which podman fills with the image's directory (content,
  owner, mode), as Fargate does;
- `readonlyRootFilesystem`, `user`, `environment`, `secrets` (resolved with the execution
  role's credentials), `ulimits`, `stopTimeout`, `healthCheck` (rehearsal.health), task cpu and
  memory; `runtimePlatform.cpuArchitecture` must match the image (Fargate: exec format error);
- the task role's credentials from the local STS, IAM enforced by the endpoint.

What the runner adds, and only this: `AWS_ENDPOINT_URL` (the SDKs' way to the local endpoint),
SQS queue URLs in the environment rewritten from AWS's form to it (rehearsal.local_aws), the
task role's keys as environment variables (Fargate serves them from its credentials
endpoint instead), and `ECS_AGENT_URI`, which the ECS agent sets in every container of a
task: here it points at a stand-in of the agent's task-protection endpoint, one per task
(`harness.ecs_agent`, on the host's loopback), which records the task's calls; `agent_calls`
keeps them once the task stopped. `added` lists these for each task.
"""

from __future__ import annotations

import json
import platform
import resource
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.ecs_agent import EcsAgentStandIn
from rehearsal.deployed import Service
from rehearsal.health import HealthCheckSpec, HealthMonitor, podman_exec_probe
from rehearsal.local_aws import ACCOUNT, HOST_LOOPBACK_FROM_CONTAINER, LocalAws

FARGATE_STOP_TIMEOUT = 30  # seconds between SIGTERM and SIGKILL when the definition says none
FARGATE_NOFILE = 65535  # Fargate's default nofile limit, soft and hard
# podman 4.3 caps its own RLIMIT_NPROC at 32768 (tests/images/engine.py): runc cannot raise it.
PODMAN_NPROC = 32768
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}
HOST_ARCHITECTURE = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
QEMU_BINFMT = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}


class CannotRun(RuntimeError):
    """Fargate would not start this task (or this machine cannot rehearse it)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def recorded_images(state: Path) -> dict[str, str]:
    """ECR image URI -> local image, from the CDK_DOCKER wrapper's record of `docker tag`."""
    path = state / "docker.jsonl"
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {e["target"]: e["image"] for e in entries if e["command"] == "tag"}


def check_architecture(task_definition: dict[str, Any], image_architecture: str) -> None:
    """Refuse an image of another architecture; say what emulation a foreign one needs."""
    wanted_name = task_definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64")
    wanted = ARCHITECTURES[wanted_name]
    if image_architecture != wanted:
        raise CannotRun(
            f"the image is {image_architecture} but runtimePlatform says {wanted_name}: "
            "on Fargate every task would fail with `exec format error`"
        )
    host = HOST_ARCHITECTURE.get(platform.machine(), platform.machine())
    binfmt = Path("/proc/sys/fs/binfmt_misc") / QEMU_BINFMT[wanted]
    if wanted != host and not binfmt.exists():
        raise CannotRun(
            f"rehearsing {wanted_name} on this {host} machine needs emulation: install Debian's "
            f"qemu-user-static (binfmt {binfmt.name} is not registered)"
        )


def ulimit_options(definition: dict[str, Any]) -> list[str]:
    """The definition's ulimits (Fargate's nofile default), within this host's hard limits."""
    limits = {u["name"]: (u["softLimit"], u["hardLimit"]) for u in definition.get("ulimits", [])}
    limits.setdefault("nofile", (FARGATE_NOFILE, FARGATE_NOFILE))
    host_hard = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "nproc": min(resource.getrlimit(resource.RLIMIT_NPROC)[1], PODMAN_NPROC),
    }
    limits.setdefault("nproc", (host_hard["nproc"], host_hard["nproc"]))
    options = []
    for name, (soft, hard) in sorted(limits.items()):
        cap = host_hard.get(name)
        if cap is not None and cap != resource.RLIM_INFINITY:
            soft, hard = min(soft, cap), min(hard, cap)
        options.append(f"--ulimit={name}={soft}:{hard}")
    return options


@dataclass
class Container:
    """One started container of a task."""

    name: str
    definition: dict[str, Any]
    health: HealthMonitor | None = None

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))

    @property
    def stop_timeout(self) -> int:
        return int(self.definition.get("stopTimeout", FARGATE_STOP_TIMEOUT))


@dataclass
class Task:
    """One running task of a service: its containers, ports, volumes and what was added."""

    service: Service
    task_id: str
    containers: list[Container] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    """containerPort -> host port on 127.0.0.1."""
    volumes: list[str] = field(default_factory=list)
    added: dict[str, str] = field(default_factory=dict)
    """Environment variable -> why the runner set or changed it."""
    agent: EcsAgentStandIn | None = None
    """The stand-in of the ECS agent's task-protection endpoint that ECS_AGENT_URI names."""

    def health(self) -> dict[str, str]:
        """Container name -> health status (containers without a check: UNKNOWN)."""
        return {c.name: c.health.state.status if c.health else "UNKNOWN" for c in self.containers}


@dataclass
class Runner:
    """Starts and stops tasks with podman, remembering every container and volume it made."""

    aws: LocalAws
    state: Path
    engine_env: dict[str, str]
    role_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    """Role ARN -> credentials from the local STS (assumed before IAM was enforced)."""
    prefix: str = field(default_factory=lambda: f"rehearse-{secrets.token_hex(3)}")
    tasks: list[Task] = field(default_factory=list)
    agent_calls: dict[str, list[tuple[str, dict[str, Any] | None]]] = field(default_factory=dict)
    """Task id -> the (method, JSON body) calls its ECS agent stand-in recorded, once stopped."""

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`podman <args>` with the project's engine settings, output captured."""
        return subprocess.run(
            ["podman", *args],
            env=self.engine_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def inspect_image(self, image: str) -> dict[str, Any]:
        """The image's configuration (architecture, volumes, user)."""
        result = self.podman("image", "inspect", image)
        if result.returncode != 0:
            raise CannotRun(f"image {image} is not in local storage: {result.stderr.strip()}")
        answer: list[dict[str, Any]] = json.loads(result.stdout)
        return answer[0]

    def environment(self, task: Task, definition: dict[str, Any]) -> dict[str, str]:
        """The container's environment: Fargate's, the definition's, and the local additions."""
        td = task.service.task_definition
        env = {
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            "AWS_REGION": self.aws.region,
            "AWS_DEFAULT_REGION": self.aws.region,
        }
        for item in definition.get("environment", []):
            local = self.aws.localize(item["value"])
            if local != item["value"]:
                task.added[item["name"]] = f"{item['value']} -> {local} (the local endpoint)"
            env[item["name"]] = local
        env.update(self.resolve_secrets(td, definition))
        env["AWS_ENDPOINT_URL"] = self.aws.container_url
        task.added["AWS_ENDPOINT_URL"] = f"{self.aws.container_url} (the local endpoint)"
        if task.agent is not None:
            env["ECS_AGENT_URI"] = f"http://{HOST_LOOPBACK_FROM_CONTAINER}:{task.agent.port}"
            task.added["ECS_AGENT_URI"] = (
                f"{env['ECS_AGENT_URI']} (a stand-in of the agent's task-protection endpoint)"
            )
        role = td.get("taskRoleArn")
        if role:
            env.update(self.role_credentials[role])
            task.added["AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN"] = f"AssumeRole {role}"
        return env

    def resolve_secrets(self, td: dict[str, Any], definition: dict[str, Any]) -> dict[str, str]:
        """`secrets`, read as the ECS agent reads them: with the execution role's credentials,
        one GetSecretValue per secret (then the JSON key, if `valueFrom` names one) or
        GetParameters (with decryption) per SSM parameter."""
        found: dict[str, str] = {}
        if not definition.get("secrets"):
            return found
        keys = self.role_credentials.get(td.get("executionRoleArn", ""))
        if keys is None:
            raise CannotRun("a container has secrets but its task has no execution role")
        for secret in definition["secrets"]:
            found[secret["name"]] = self.read_secret(secret["valueFrom"], keys)
        return found

    def read_secret(self, value_from: str, keys: dict[str, str]) -> str:
        """One `valueFrom`: a secret ARN [:json-key:version-stage:version-id] or a parameter."""
        if ":secretsmanager:" in value_from:
            parts = value_from.split(":")
            arn, (json_key, stage, version) = ":".join(parts[:7]), [*parts[7:], "", "", ""][:3]
            request = {"SecretId": arn}
            if stage:
                request["VersionStage"] = stage
            if version:
                request["VersionId"] = version
            text: str = self.aws.client("secretsmanager", keys).get_secret_value(**request)[
                "SecretString"
            ]
            if not json_key:
                return text
            try:
                return str(json.loads(text)[json_key])
            except (ValueError, KeyError, TypeError):
                raise CannotRun(f"{arn} holds no JSON key {json_key!r}") from None
        name = value_from
        if value_from.startswith("arn:"):
            # parameter/a/b is "/a/b"; parameter/b is "b" (a name without a path has no "/").
            name = value_from.split(":parameter", 1)[-1]
            name = name if name.count("/") > 1 else name.lstrip("/")
        answer = self.aws.client("ssm", keys).get_parameters(Names=[name], WithDecryption=True)
        if answer.get("InvalidParameters"):
            raise CannotRun(f"no SSM parameter {name}")
        value: str = answer["Parameters"][0]["Value"]
        return value

    def mounts(self, task: Task, definition: dict[str, Any], image: dict[str, Any]) -> list[str]:
        """`mountPoints` with Fargate's bind-mount semantics (module docstring)."""
        td = task.service.task_definition
        volumes = {v["name"]: v for v in td.get("volumes", [])}
        declared = set((image.get("Config") or {}).get("Volumes") or {})
        options = []
        for point in definition.get("mountPoints", []):
            volume = volumes[point["sourceVolume"]]
            if set(volume) - {"name"}:
                raise CannotRun(f"volume {volume} (host, EFS, Docker volume) is not rehearsed")
            path, read_only = point["containerPath"], ",ro" if point.get("readOnly") else ""
            if path in declared:
                name = f"{task.task_id}-{volume['name']}"
                if name not in task.volumes:
                    created = self.podman("volume", "create", name)
                    if created.returncode != 0:
                        raise CannotRun(f"podman volume create {name}: {created.stderr}")
                    task.volumes.append(name)
                options.append(f"--mount=type=volume,src={name},dst={path}{read_only}")
            else:
                host = self.state / "tasks" / task.task_id / volume["name"]
                host.mkdir(mode=0o755, parents=True, exist_ok=True)
                host.chmod(0o755)  # not the umask's: Fargate's fresh directory is root 0755
                options.append(f"--mount=type=bind,src={host},dst={path}{read_only}")
        return options

    def run_options(
        self, task: Task, definition: dict[str, Any], image: dict[str, Any]
    ) -> list[str]:
        """Every `podman run` option of one container, from its definition."""
        td = task.service.task_definition
        name = f"{task.task_id}-{definition['name']}"
        options = [f"--name={name}", "--detach", "--no-healthcheck"]
        if task.containers:  # the task's network namespace is its first container's
            options.append(f"--network=container:{task.containers[0].name}")
        else:
            options.append(
                "--network=slirp4netns:allow_host_loopback=true,port_handler=slirp4netns"
            )
            for mapping in td_ports(td):
                host_port = free_port()
                task.ports[mapping] = host_port
                options.append(f"--publish=127.0.0.1:{host_port}:{mapping}")
            if "cpu" in td:
                options.append(f"--cpus={int(td['cpu']) / 1024:g}")
            if "memory" in td:
                options.append(f"--memory={int(td['memory'])}m")
        if definition.get("readonlyRootFilesystem"):
            # podman would otherwise put a tmpfs on /tmp, /var/tmp and /run: Fargate does not.
            options += ["--read-only", "--read-only-tmpfs=false"]
        if definition.get("user"):
            options.append(f"--user={definition['user']}")
        if definition.get("workingDirectory"):
            options.append(f"--workdir={definition['workingDirectory']}")
        if definition.get("entryPoint"):
            options.append(f"--entrypoint={json.dumps(definition['entryPoint'])}")
        if (definition.get("linuxParameters") or {}).get("initProcessEnabled"):
            options.append("--init")
        stop_timeout = int(definition.get("stopTimeout", FARGATE_STOP_TIMEOUT))
        options.append(f"--stop-timeout={stop_timeout}")
        options += ulimit_options(definition)
        options += self.mounts(task, definition, image)
        env = self.environment(task, definition)
        options += [f"--env={key}={value}" for key, value in env.items()]
        return options

    def start_task(self, service: Service, index: int) -> Task:
        """Start one task of `service` (its containers in definition order)."""
        images = recorded_images(self.state)
        task = Task(service=service, task_id=f"{self.prefix}-{service.short_name}-{index}")
        self.tasks.append(task)
        self.start_agent(task)
        for definition in service.task_definition["containerDefinitions"]:
            uri = definition["image"]
            if uri not in images:
                raise CannotRun(f"{uri} was not built and pushed by this deploy (docker.jsonl)")
            image = self.inspect_image(images[uri])
            check_architecture(service.task_definition, image["Architecture"])
            options = self.run_options(task, definition, image)
            container = Container(
                name=f"{task.task_id}-{definition['name']}", definition=definition
            )
            started = self.podman("run", *options, images[uri], *definition.get("command", []))
            task.containers.append(container)
            if started.returncode != 0:
                raise CannotRun(f"podman run {container.name}: {started.stderr.strip()}")
            if definition.get("healthCheck"):
                spec = HealthCheckSpec.from_definition(definition["healthCheck"])
                probe = podman_exec_probe(container.name, self.engine_env)
                container.health = HealthMonitor(spec, probe, container.name)
                container.health.start()
        return task

    def start_agent(self, task: Task) -> None:
        """The task's ECS agent stand-in, on the host's loopback (containers: 10.0.2.2)."""
        arn = f"arn:aws:ecs:{self.aws.region}:{ACCOUNT}:task/{self.prefix}/{task.task_id}"
        task.agent = EcsAgentStandIn(task_arn=arn).start()

    def stop_agent(self, task: Task) -> None:
        """Stop the task's stand-in and keep what it recorded in `agent_calls`."""
        if task.agent is not None:
            task.agent.stop()
            self.agent_calls[task.task_id] = list(task.agent.calls)
            task.agent = None

    def start_service(self, service: Service) -> list[Task]:
        """The service's desired count of tasks."""
        return [self.start_task(service, index) for index in range(service.desired_count)]

    def running(self, container: Container) -> bool:
        """Whether the container's process is still running."""
        state = self.podman("inspect", "--format={{.State.Running}}", container.name)
        return state.stdout.strip() == "true"

    def exit_code(self, container: Container) -> int | None:
        """The container's exit code once it stopped."""
        state = self.podman("inspect", "--format={{.State.ExitCode}}", container.name)
        return int(state.stdout) if state.returncode == 0 and not self.running(container) else None

    def logs(self, container: Container) -> str:
        """What the container wrote (stdout and stderr)."""
        result = self.podman("logs", container.name)
        return result.stdout + result.stderr

    def stop_task(self, task: Task) -> dict[str, int | None]:
        """As ECS stops a task: the stop signal, `stopTimeout`, then SIGKILL; then remove it."""
        codes: dict[str, int | None] = {}
        for container in reversed(task.containers):
            if container.health:
                container.health.stop()
            self.podman(
                "stop",
                f"--time={container.stop_timeout}",
                container.name,
                timeout=container.stop_timeout + 60,
            )
            codes[container.name] = self.exit_code(container)
        self.remove(task)
        return codes

    def remove(self, task: Task) -> None:
        """Remove the task's containers and volumes, whatever their state."""
        for container in reversed(task.containers):
            if container.health:
                container.health.stop()
            self.podman("rm", "--force", "--time=0", container.name)
        for volume in task.volumes:
            self.podman("volume", "rm", "--force", volume)
        self.stop_agent(task)
        if task in self.tasks:
            self.tasks.remove(task)

    def stop_all(self) -> None:
        """Stop every task this runner started (Ctrl-C, the end of a test)."""
        for task in list(reversed(self.tasks)):
            self.stop_task(task)


def format_agent_calls(calls: dict[str, list[tuple[str, dict[str, Any] | None]]]) -> list[str]:
    """One line per task: the task-protection calls its ECS agent stand-in recorded."""
    lines = ["ECS agent task-protection calls (PUT/GET $ECS_AGENT_URI/task-protection/v1/state):"]
    for task_id, recorded in sorted(calls.items()):
        described = ", ".join(
            method if body is None else f"{method} {json.dumps(body, sort_keys=True)}"
            for method, body in recorded
        )
        lines.append(f"  {task_id}: {described or 'none'}")
    return lines


def td_ports(td: dict[str, Any]) -> list[int]:
    """Every container port of the task (awsvpc: published once per task)."""
    return [
        mapping["containerPort"]
        for definition in td["containerDefinitions"]
        for mapping in definition.get("portMappings", [])
    ]
