"""Upload and view throughput of an older commit against this checkout, alternating, on one machine.

    python scripts/bench_before_after.py --before d539bea            # keys v2: before vs now

Why: one `bench_records.py` run on a shared machine moves by 20-30 % from run to run, more than the
differences worth knowing about (the issue allows at most 10 % upload regression). Alternating
before/after rounds in one session and pooling the runs of each side makes the comparison fair.

How: the older commit is checked out as a git worktree under `.cache/bench/` (made once, detached),
sharing this checkout's `node_modules`, js-ipfs and `.venv` (symlinks; the venv's editable install
points here, so each side runs with `PYTHONPATH=<side>/backend` ahead of it, checked before the
first round: the API process inherits it). Both sides run this checkout's `bench_records.py` (copied
into the worktree: the same measurement on both sides) with their own `bench_support.py` and
`tests/backend/support` (their settings and upload forms). Rounds alternate before, after, before, ...

Reports per size the pooled median upload and view rates (MB/s over all runs of a side), each
round's rate, and after/before ratios; writes `.cache/bench/before_after.json`; exits 1 when an
upload ratio is below 0.9 (the issue's "no regression beyond 10%"), 2 when a round cannot run.
Options: `--rounds 3`, `--sizes 1,10`, `--runs 5,5` (as bench_records.py), `--after DIR` (another
checkout instead of this one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".cache" / "bench" / "before_after.json"
SHARED = ("node_modules", "tools/ipfs/node_modules")  # installed once, here
MIN_UPLOAD_RATIO = 0.9


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def worktree_for(commit: str) -> Path:
    """A detached worktree of `commit` under .cache/bench/, sharing this checkout's node modules."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    tree = ROOT / ".cache" / "bench" / f"worktree-{sha[:12]}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), sha], check=True,
                       capture_output=True)
    for rel in SHARED:
        link = tree / rel
        if not link.exists():
            link.symlink_to(ROOT / rel)
    shutil.copy2(ROOT / "scripts" / "bench_records.py", tree / "scripts" / "bench_records.py")
    return tree


def side_env(side: Path) -> dict[str, str]:
    """The side's backend first on the path (ahead of the venv's editable install of this checkout)."""
    return {
        **os.environ,
        "PYTHONPATH": str(side / "backend"),
        "PATH": os.pathsep.join([str(side / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def check_imports(side: Path) -> None:
    """Fail unless `healthledger` imports from the side's own backend under its environment."""
    found = subprocess.run([sys.executable, "-c", "import healthledger; print(healthledger.__file__)"],
                           env=side_env(side), cwd="/", check=True, capture_output=True, text=True).stdout.strip()
    if not Path(found).resolve().is_relative_to((side / "backend").resolve()):
        raise SystemExit(f"{side}: healthledger imports from {found}, not from its own backend")


def one_round(side: Path, sizes: str, runs: str) -> dict[str, Any]:
    """One bench_records.py run on `side`; its JSON result."""
    out = side / ".cache" / "bench" / "records.json"
    out.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "scripts/bench_records.py", "--sizes", sizes, "--runs", runs],
                          cwd=side, env=side_env(side), capture_output=True, text=True)
    if done.returncode not in (0, 1) or not out.exists():  # 1: a target missed (only checked at 100 MB)
        say(done.stderr[-3000:])
        raise RuntimeError(f"bench_records.py on {side} exited {done.returncode}")
    return json.loads(out.read_text())


def summarise(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    for size in rounds["before"][0]["sizes"]:
        mb = rounds["before"][0]["sizes"][size]["bytes"] / 2**20
        row: dict[str, Any] = {}
        for metric in ("upload", "view"):
            for side, results in rounds.items():
                times = [t for r in results for t in r["sizes"][size][f"{metric}_s"]]
                row[f"{metric}_{side}"] = {
                    "mb_s": round(mb / statistics.median(times), 2),
                    "rounds_mb_s": [r["sizes"][size][f"{metric}_mb_s"] for r in results],
                    "runs": len(times),
                }
            row[f"{metric}_ratio"] = round(row[f"{metric}_after"]["mb_s"] / row[f"{metric}_before"]["mb_s"], 3)
        sizes[size] = row
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the older commit (e.g. d539bea)")
    parser.add_argument("--after", type=Path, default=ROOT, help="the newer checkout (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1,10")
    parser.add_argument("--runs", default="5,5")
    args = parser.parse_args(argv)
    sides = {"before": worktree_for(args.before), "after": args.after.resolve()}
    for side in sides.values():
        check_imports(side)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    try:
        for i in range(args.rounds):
            for name, side in sides.items():
                rounds[name].append(one_round(side, args.sizes, args.runs))
                say(f"  round {i + 1}/{args.rounds} {name} done")
    except RuntimeError as exc:
        say(f"before/after benchmark could not run: {exc}")
        return 2
    sizes = summarise(rounds)
    print(f"{'size':>6} {'metric':<7} {'before MB/s':>12} {'after MB/s':>11} {'after/before':>13}")
    for size, row in sizes.items():
        for metric in ("upload", "view"):
            print(f"{size:>6} {metric:<7} {row[f'{metric}_before']['mb_s']:>12.2f} "
                  f"{row[f'{metric}_after']['mb_s']:>11.2f} {row[f'{metric}_ratio']:>13.3f}")
    result = {"benchmark": "before_after", "before": args.before, "after": str(sides["after"]),
              "rounds": args.rounds, "order": "before, after alternating", "sizes": sizes,
              "note": "MB = 2**20 bytes; rates from the median over all runs of a side"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    low = [size for size, row in sizes.items() if row["upload_ratio"] < MIN_UPLOAD_RATIO]
    if low:
        say(f"upload regression beyond {1 - MIN_UPLOAD_RATIO:.0%}: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
