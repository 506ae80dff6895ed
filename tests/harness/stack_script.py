"""A program that starts a whole local stack with the harness, says so, and waits.

    python -m tests.harness.stack_script WORK_DIR

It installs no signal handler of its own: what happens on SIGTERM or SIGHUP is the harness's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.stack import LocalStack


def main() -> None:
    """Start moto's server, a worker and the web; print `ready`; sleep until stopped."""
    stack = LocalStack(work_dir=Path(sys.argv[1]))
    try:
        stack.start_aws()
        stack.start_worker()
        stack.start_web()
        print("ready", flush=True)
        while True:
            time.sleep(1)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
