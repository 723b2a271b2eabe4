"""`make load`: Locust against a stack of its own, headless and bounded.

    python -m ops.bench.load [--scenario mix|original] [--run-time 60s] [locust options...]

Starts the stack of ops/stack.py (2 instances behind nginx, a Redis of its own, the
embedded MongoDB-wire server unless TAC_MONGO_URL is set) under var/load, runs
`locust -f ops/locustfile.py --headless` against nginx, and stops the stack, also when
Locust fails or is interrupted. Options it does not know go to Locust unchanged.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from ops.bench.client import raise_fd_limit
from ops.bench.fanout import BenchStack

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.load", description=__doc__)
    parser.add_argument("--scenario", choices=["mix", "original"], default="mix")
    parser.add_argument("--run-time", default="60s")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port")
    parser.add_argument("--var-dir", type=Path, default=Path("var/load"))
    args, locust_args = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on SIGTERM too
    raise_fd_limit(65536)
    stack = BenchStack(args.var_dir / "stack", 2, args.port, own_redis=True)
    try:
        stack.start()
        command = [
            str(Path(sys.executable).parent / "locust"),
            "-f", str(LOCUSTFILE),
            "--headless",
            "--host", stack.url,
            "--run-time", args.run_time,
            "--scenario", args.scenario,
            "--only-summary",
            *locust_args,
        ]  # fmt: skip
        print("load: " + " ".join(command), file=sys.stderr)
        return subprocess.run(command, check=False).returncode
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
