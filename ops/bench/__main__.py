"""`python -m ops.bench`: the room fan-out benchmark (see ops/bench/fanout.py)."""

import sys

from ops.bench.fanout import main

sys.exit(main())
