"""The README's test command against the same tests one after another, side by side in one run.

    .venv/bin/python -m bench.suite_time            # the whole suite twice: ~30 minutes on 2 cores
    .venv/bin/python -m bench.suite_time --smoke    # one small test module, to show the command works

Runs `pytest -p no:cacheprovider` (one process) and `pytest -n auto` (pytest-xdist: two workers per core,
tests/conftest.py) on this checkout, one after the other, with the environment it is given (CI sets
GMW_REQUIRE_POSTGRES and GMW_REQUIRE_PROMTOOL, so that no test skips in one run and not the other).
Writes bench/results/suite_time.json (`--out`): wall time, passed, failed and skipped of each, and their
ratio. bench/README.md ("The test suite") shows the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_suite(extra: list[str], selection: list[str]) -> dict:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *extra, *selection]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return {"command": " ".join(["pytest", *command[3:]]), "exit_status": done.returncode, "wall_s": round(wall, 1),
            "passed": counts.get("passed", 0), "failed": counts.get("failed", 0), "skipped": counts.get("skipped", 0),
            "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.suite_time", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one small module instead of the whole suite")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "suite_time.json")
    args = parser.parse_args(argv)
    selection = ["tests/test_checks.py"] if args.smoke else []
    one = run_suite([], selection)
    side_by_side = run_suite(["-n", "auto"], selection)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "one_process": one,
        "n_auto": side_by_side,
        "ratio_n_auto_to_one": round(side_by_side["wall_s"] / one["wall_s"], 3) if one["wall_s"] else None,
        "same_tests_pass": one["passed"] == side_by_side["passed"] and not one["failed"] and not side_by_side["failed"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if result["same_tests_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
