"""`python -m devstack.procfile [NAME ...]`: run the Procfile's processes (all, or those named).

This is what `make run` starts. The `worker` entry is started once per declared queue (one
worker process consumes one queue: `worker` the default, `worker-reports` the queue
`reports`, ...). Each line a process prints is shown with the time and the
process's name. The processes stay in this process's group (honcho gives each one a session
of its own, which a signal to `make`'s group never reaches): Ctrl-C in the terminal, a
SIGTERM or SIGHUP to the group, even a SIGKILL, reaches every one of them. On SIGINT,
SIGTERM or SIGHUP, or when one process exits, the others get SIGTERM (the worker's warm
shutdown, gunicorn's graceful stop) until they exit; whatever is left after STOP_TIMEOUT_S
is killed, with its children.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

import psutil
from taskqueue.factory import declared_queues
from taskqueue.settings import get_settings

# gunicorn's graceful timeout (20 s) fits; a longer task is cut short, as `make run` is local.
STOP_TIMEOUT_S = 25
RESEND_S = 2
_output = threading.Lock()


def read_procfile(path: Path) -> dict[str, list[str]]:
    """The `name: command` lines of `path` (blank lines and `#` comments skipped)."""
    entries: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not name.strip() or not command.strip():
            raise SystemExit(f"{path}: not a `name: command` line: {line!r}")
        entries[name.strip()] = shlex.split(command)
    return entries


def with_queue_workers(
    entries: dict[str, list[str]], queues: list[str], heartbeat_file: str
) -> dict[str, list[str]]:
    """`entries` with the `worker` entry once more per queue after the first (the default):
    `worker-<queue>`, the same command with WORKER_QUEUE and a heartbeat file of its own."""
    worker = entries.get("worker")
    if worker is None:
        return entries
    expanded = dict(entries)
    for queue in queues[1:]:
        heartbeat = f"{heartbeat_file}-{queue}"
        expanded[f"worker-{queue}"] = [
            "env",
            f"WORKER_QUEUE={queue}",
            f"WORKER_HEARTBEAT_FILE={heartbeat}",
            *worker,
        ]
    return expanded


def _say(name: str, width: int, text: bytes) -> None:
    with _output:
        sys.stdout.buffer.write(f"{time.strftime('%H:%M:%S')} {name:<{width}} | ".encode() + text)
        sys.stdout.buffer.flush()


def _relay(name: str, width: int, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        _say(name, width, line)


def _stop(processes: dict[str, subprocess.Popen[bytes]], say: Callable[[str], None]) -> None:
    """SIGTERM every running process until it exits; after STOP_TIMEOUT_S, SIGKILL its tree.

    SIGTERM is sent again every RESEND_S: a worker that got SIGHUP restarts itself (Celery
    does when its output is not a terminal) and only the new one stops on the next SIGTERM.
    """
    for name, process in processes.items():
        if process.poll() is None:
            say(f"sending SIGTERM to {name} (pid {process.pid})")
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        running = [process for process in processes.values() if process.poll() is None]
        if not running:
            return
        for process in running:
            process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            running[0].wait(RESEND_S)
    for name, process in processes.items():
        if process.poll() is None:
            say(f"{name} did not stop in {STOP_TIMEOUT_S} s: SIGKILL")
            try:
                tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
            except psutil.NoSuchProcess:
                tree = []
            for member in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    member.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    """Start the processes, relay their output, stop them all; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m devstack.procfile", description=__doc__)
    parser.add_argument("names", nargs="*", help="the Procfile entries to run (default: all)")
    parser.add_argument("--procfile", type=Path, default=Path("Procfile"))
    args = parser.parse_args(argv)
    settings = get_settings()
    entries = with_queue_workers(
        read_procfile(args.procfile), declared_queues(settings), settings.worker_heartbeat_file
    )
    names = args.names or list(entries)
    unknown = sorted(set(names) - set(entries))
    if unknown:
        parser.error(f"not in {args.procfile}: {', '.join(unknown)}")
    width = max(len(name) for name in [*names, "system"])

    def say(message: str) -> None:
        _say("system", width, f"{message}\n".encode())

    received: list[int] = []
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    relays: list[threading.Thread] = []
    for name in names:
        if stopping.is_set():
            break
        process = subprocess.Popen(entries[name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        processes[name] = process
        relay = threading.Thread(target=_relay, args=(name, width, process.stdout), daemon=True)
        relay.start()
        relays.append(relay)
        say(f"{name} started (pid {process.pid})")

    first_exit: int | None = None
    while not stopping.wait(0.2):
        exited = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
        if exited:
            say(f"{exited[0][0]} exited (status {exited[0][1]})")
            first_exit = exited[0][1]
            break
    if received:
        say(f"{signal.Signals(received[0]).name} received")
    _stop(processes, say)
    for relay in relays:
        relay.join(5)
    for name, process in processes.items():
        say(f"{name} stopped (status {process.returncode})")
    if received:
        return 128 + received[0]
    if first_exit is not None and first_exit < 0:  # killed by a signal
        return 128 - first_exit
    return first_exit or 0


if __name__ == "__main__":
    sys.exit(main())
