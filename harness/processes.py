"""Real processes for tests and the bench: free ports, start in their own session, stop by PID.

Each process runs in a session of its own, so a signal meant for the test run never reaches
it half-way: the harness stops it (SIGTERM, then SIGKILL) by PID. What is still running
when the run ends is stopped too: at exit, and on SIGTERM or SIGHUP (`make bench` stopped,
a terminal closed), which end the run as Ctrl-C does. Repeated signals (`uv run` forwards
each one again) are ignored while that clean-up runs.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType


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
            self.kill_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group(signal.SIGKILL)
                self.popen.wait(5)
            self.kill_group(signal.SIGKILL)  # stray pool children
            # Only now: a stop cut short (an exception while waiting) is done again at exit.
            self.stopped = True
            _started[:] = [process for process in _started if process is not self]
        return self.popen.returncode


# Every process started and not stopped yet, oldest first.
_started: list[Process] = []
_registered = threading.Event()
_exiting = threading.Event()


def stop_all() -> None:
    """Stop every process the harness started and has not stopped yet, newest first."""
    for process in reversed(list(_started)):
        process.stop()


def _stop_all_at_exit() -> None:
    _exiting.set()  # a signal now would cut the clean-up short
    stop_all()


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    """The first SIGTERM/SIGHUP exits with 128 + its number, running the finally blocks."""
    if not _exiting.is_set():
        _exiting.set()
        raise SystemExit(128 + signum)


def _interrupt_on_signal(signum: int, _frame: FrameType | None) -> None:
    """The first SIGTERM/SIGHUP is Ctrl-C (pytest stops the session and tears down)."""
    if not _exiting.is_set():
        _exiting.set()
        raise KeyboardInterrupt(signal.Signals(signum).name)


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP exit through the normal clean-up (a program's main calls this).

    Once the clean-up has started, further signals are ignored: `uv run` (and make) pass
    each signal on to their child, which gets it twice when its process group is signalled.
    """
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)


def _register() -> None:
    """Once, at the first start: stop what is left at exit; where SIGTERM and SIGHUP still
    have their default action (which would leave the children running), make them Ctrl-C."""
    _registered.set()
    atexit.register(_stop_all_at_exit)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) == signal.SIG_DFL:
                signal.signal(signum, _interrupt_on_signal)


def start(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path | None = None
) -> Process:
    """Start `argv` in a new session with its output in `log_dir/<name>.log` (in `cwd`, by
    default this process's)."""
    if not _registered.is_set():
        _register()
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
        )
    process = Process(name=name, popen=popen, log_path=log_path)
    _started.append(process)
    return process


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
