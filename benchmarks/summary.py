"""A compact table of a results file, for the README: ``python -m benchmarks.summary benchmarks/results/small.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .harness import fmt_time


def summary(doc: dict) -> str:  # type: ignore[type-arg]
    m = doc["machine"]
    load = "/".join(f"{v:.0f}" for v in m["load_average_start"][:1] + m.get("load_average_end", [])[:1])
    lines = [f"Measured {m['date'][:16].replace('T', ' ')} UTC at commit {m['commit']}, {m['cores']} cores, "
             f"load average {load} (start/end): a busy shared machine, so read the ratios.", "",
             "| group | benchmark | certlab | against | ratio | target | met |", "|---|---|---:|---|---:|---|:-:|"]
    for r in doc["results"]:
        base = r["ratio_to"] or next(iter(r["baselines"]), "")
        value = r["baselines"].get(base)
        against = f"{base} {fmt_time(value, r['unit'])}" if value is not None else ""
        ratio = f"{r['ratio']:.2f}×" if r.get("ratio") is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['group']} | {r['name']} | {fmt_time(r['certlab'], r['unit'])} | {against} | {ratio} | "
                     f"{r['target']} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(summary(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
