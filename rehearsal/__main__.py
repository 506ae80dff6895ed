"""`make rehearse STAGE=dev`: rehearse the first `cdk deploy` on this machine, then keep it running.

    python -m rehearsal --stage dev [--state .rehearsal/dev]

Ctrl-C (or SIGTERM) stops and removes everything it started.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from rehearsal.deploy import REPO
from rehearsal.runner import format_agent_calls
from rehearsal.session import Rehearsal

HEALTHY_WITHIN = 180  # seconds: the longest start period plus three intervals of both checks


def banner(rehearsal: Rehearsal, stage: str) -> list[str]:
    """The URL, the curl lines to try, and the CLI against the rehearsed stack."""
    url = rehearsal.web_url
    body = '{"task":"long_task","params":{"duration":2}}'
    return [
        f"Web task of {rehearsal.deployment.stack_name if rehearsal.deployment else stage} "
        f"on {url}. Try:",
        f"  export TASKQUEUE_API_KEY={rehearsal.api_key}",
        f'  curl -s -X POST {url}/tasks -H "Authorization: Bearer $TASKQUEUE_API_KEY" '
        f"-H 'content-type: application/json' -d '{body}'",
        f'  curl -s {url}/tasks/<id> -H "Authorization: Bearer $TASKQUEUE_API_KEY"',
        f"  uv run --frozen taskqueue status <id> --url {url}",
        "Check the rehearsed stack (the endpoint's administrator keys: IAM is enforced):",
        "  "
        + " ".join(f"{name}={value}" for name, value in rehearsal.aws.env().items())
        + f" make verify STAGE={stage} VERIFY_ARGS='--url {url}'",
        "Containers: " + ", ".join(c.name for t in rehearsal.runner.tasks for c in t.containers),
        "Ctrl-C stops and removes everything.",
    ]


def main(argv: list[str] | None = None) -> int:
    """Deploy, run, print, wait for Ctrl-C, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--state", type=Path, default=None, help="default: .rehearsal/<stage>")
    args = parser.parse_args(argv)
    state = args.state or REPO / ".rehearsal" / args.stage
    shutil.rmtree(state, ignore_errors=True)  # every rehearsal starts from nothing
    stopped = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopped.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    began = time.monotonic()
    rehearsal = Rehearsal(stage=args.stage, state=state)
    try:
        rehearsal.start()
        for line in rehearsal.report():
            print(line)
        print("Waiting for the task-definition health checks ...", flush=True)
        status = rehearsal.wait_healthy(HEALTHY_WITHIN)
        print("Health: " + ", ".join(f"{name} {value}" for name, value in status.items()))
        times = {**rehearsal.seconds, "until healthy": time.monotonic() - began}
        print("Times: " + ", ".join(f"{step} {value:.0f}s" for step, value in times.items()))
        for line in banner(rehearsal, args.stage):
            print(line, flush=True)
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        # Ctrl-C reaches make, uv and this process: a second SIGINT must not cut the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        rehearsal.stop()
        for line in format_agent_calls(rehearsal.runner.agent_calls):
            print(line)
        print("stopped; containers, volumes and the endpoint are removed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
