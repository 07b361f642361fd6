#!/usr/bin/env python3
"""`make run`: start the whole HealthLedger stack locally and print its URL (Ctrl-C stops it).

Thin wrapper; everything is in `healthledger.devstack.stack` (see its docstring for the settings).
`--no-api` starts only the services and writes the API's settings to `.data/api.env`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

try:
    from healthledger.devstack.stack import main
except ImportError:  # not installed in this interpreter: use the checkout's package
    sys.path.insert(0, str(ROOT / "backend"))
    from healthledger.devstack.stack import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], repo_root=ROOT))
