"""Real processes for tests: free ports, start in their own session, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """A started process, its log file, and how to stop it."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the process alone (not its children)."""
        os.kill(self.pid, signum)

    def kill_group(self, signum: int = signal.SIGKILL) -> None:
        """Send `signum` to the process and every child (its own session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM the process group, then SIGKILL what is left after `timeout` seconds."""
        if not self.stopped:
            self.stopped = True
            self.kill_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.popen.wait(5)
            self.kill_group(signal.SIGKILL)  # stray pool children
        return self.popen.returncode


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Process:
    """Start `argv` in a new session with its output in `log_dir/<name>.log`."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name=name, popen=popen, log_path=log_path)


def wait_until(
    ready: Callable[[], bool], timeout: float, what: str, process: Process | None = None
) -> None:
    """Poll `ready` until it is true; fail with the process's log if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited early:\n{process.log()[-4000:]}")
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.1)
    log = process.log()[-4000:] if process is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")
