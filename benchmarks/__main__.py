"""Run the benchmarks and write benchmarks/results/SIZE.json and SIZE.md."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from . import harness

GROUPS = ["issuance", "bulk_import", "queries", "audit", "cli", "dashboard", "concurrency"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     epilog="Example:\n  .venv/bin/python -m benchmarks --size small",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(harness.SIZES), default="small",
                        help="tiny (CI smoke run, seconds), small (minutes), full (the targets' sizes; long)")
    parser.add_argument("--only", action="append", choices=GROUPS, help="run only these groups (repeatable)")
    parser.add_argument("--out", type=Path, default=harness.ROOT / "benchmarks" / "results",
                        help="where SIZE.json and SIZE.md go (default benchmarks/results)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed afterwards)")
    args = parser.parse_args(argv)
    size = harness.SIZES[args.size]
    os.environ.pop("CERTLAB_MASTER_KEY", None)
    info = harness.machine()
    started = time.perf_counter()
    results: list[harness.Result] = []
    findings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="certlab-bench-") as tmp:
        work = args.work or Path(tmp)
        for group in args.only or GROUPS:
            module = __import__(f"benchmarks.{group}", fromlist=["run"])
            harness.log(f"== {group}")
            results.extend(module.run(size, work / group))
            findings.extend(getattr(module, "FINDINGS", []))
    info["load_average_end"] = list(os.getloadavg())
    info["suite_seconds"] = time.perf_counter() - started
    json_path, md_path = harness.write_reports(args.out, size.name, results, info, findings)
    sys.stdout.write(md_path.read_text(encoding="utf-8"))
    harness.log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
