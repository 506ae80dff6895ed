"""`python -m bench.network_proxy --upstream-port N --port M [--model FILE]`: the latency
model's proxy (bench.proxy with bench.latency's delays) in a process of its own.

In the bench's process its threads would wait for the interpreter lock behind the bench's own
load generators (eight threads signing boto3 requests), and every modelled round trip would
be that much longer; in its own process they wait for nothing but the model. It serves until
it is stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from bench.latency import MODEL_FILE, LatencyModel
from bench.proxy import CountingProxy


def main(argv: list[str] | None = None) -> None:
    """Serve the proxy on --port, forwarding to --upstream-port, until stopped."""
    parser = argparse.ArgumentParser(prog="python -m bench.network_proxy", description=__doc__)
    parser.add_argument("--upstream-port", type=int, required=True, help="moto's port")
    parser.add_argument("--port", type=int, required=True, help="the port to serve on")
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the model's file")
    args = parser.parse_args(argv)
    model = LatencyModel.load(args.model)
    with CountingProxy(args.upstream_port, model=model, port=args.port) as proxy:
        print(f"latency model's proxy on {proxy.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
