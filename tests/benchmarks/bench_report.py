"""How much the report and its figures add to a run (DESIGN §8: < 10% of the run of the examples).

For each example: `mlproj run` on a fresh copy, as a user runs it (a subprocess, default options),
with the figures (MLPROJ_FIGURES=on) and without them (off: the report's text, metrics.json and
evaluation/ are still written), alternating, `--repeats` times each; prints the medians and the
share the figures add. Run on an idle machine:

    python tests/benchmarks/bench_report.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("star-galaxy", "photo-z")


def timed_run(example: str, figures: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / example
        shutil.copytree(REPO / "examples" / example, folder)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlproj", "run"], cwd=folder, check=True, capture_output=True,
                       env={**os.environ, "MLPROJ_FIGURES": figures})
        elapsed = time.perf_counter() - start
        if figures == "on":
            assert len(list(folder.glob("runs/*/latest/figures/*.png"))) >= 4
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", nargs="+", default=list(EXAMPLES), choices=EXAMPLES)
    args = parser.parse_args()
    rows = []
    for example in args.examples:
        times: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(args.repeats):
            for figures in ("off", "on"):
                times[figures].append(timed_run(example, figures))
        on, off = statistics.median(times["on"]), statistics.median(times["off"])
        rows.append((example, off, on, on / off - 1))
        # Each "on" run beside the "off" run just before it: the machine's slow drifts cancel.
        paired = statistics.median(b / a - 1 for a, b in zip(times["off"], times["on"]))
        print(f"{example}: without figures {off:.2f} s, with {on:.2f} s (+{on / off - 1:.1%}; paired median "
              f"{paired:+.1%}); "
              f"all: off {[round(t, 2) for t in times['off']]}, on {[round(t, 2) for t in times['on']]}", flush=True)
    print("\n| example | run without figures (s) | with figures (s) | added | target |")
    print("|---|---:|---:|---:|---|")
    for example, off, on, added in rows:
        print(f"| {example} | {off:.2f} | {on:.2f} | {added:+.1%} | < 10% {'pass' if added < 0.10 else 'FAIL'} |")


if __name__ == "__main__":
    main()
