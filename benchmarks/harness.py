"""Timing, machine description and the two report formats (JSON and a Markdown table)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Size:
    """How big each benchmark is. ``tiny`` is CI's smoke run; ``full`` is what the targets are about."""

    name: str
    runs: int                  # timed runs per measurement, after one warm-up
    rsa_runs: int              # RSA key generation varies a lot: more runs
    ec_batch: int              # certificates per batch issuance
    bundles: tuple[int, ...]   # certificates per PEM bundle imported
    directory: int             # files in the imported directory
    query_certs: int           # inventory size for the query benchmarks
    audit_events: int          # audit events verified
    cli_runs: int
    dashboard_certs: int


SIZES = {
    "tiny": Size("tiny", 2, 3, 100, (200,), 50, 1_000, 1_000, 2, 500),
    "small": Size("small", 5, 15, 2_000, (10_000,), 2_000, 100_000, 100_000, 7, 10_000),
    "full": Size("full", 7, 21, 10_000, (10_000, 100_000), 10_000, 1_000_000, 1_000_000, 11, 100_000),
}


@dataclass
class Stat:
    """Timings of one thing, in seconds."""

    median: float
    runs: list[float]

    @property
    def low(self) -> float:
        return min(self.runs)

    @property
    def high(self) -> float:
        return max(self.runs)


def measure(fn: Callable[[], Any], runs: int, *, warmup: int = 1, setup: Callable[[], Any] | None = None) -> Stat:
    """Median wall time of ``runs`` calls after ``warmup`` untimed ones; ``setup`` runs untimed before each."""
    for _ in range(warmup):
        if setup:
            setup()
        fn()
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return Stat(statistics.median(times), times)


def measure_cpu(fn: Callable[[], Any], runs: int, *, setup: Callable[[], Any] | None = None) -> tuple[Stat, Stat]:
    """Like ``measure`` for a function that runs one process: (wall, CPU time of that process)."""
    wall = measure(fn, runs, setup=setup)
    cpu = CHILD_CPU[-runs:]
    return wall, Stat(statistics.median(cpu), list(cpu))


def measure_pair(a: Callable[[], Any], b: Callable[[], Any], runs: int, *, warmup: int = 1) -> tuple[Stat, Stat]:
    """Interleave two measurements run by run, so that drifting machine load hits both alike."""
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(runs):
        t = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t)
    return Stat(statistics.median(ta), ta), Stat(statistics.median(tb), tb)


#: CPU seconds (user + system) of every process run_process started, in order: on a shared machine the
#: CPU time drifts less with the load than the wall time, so reports give both.
CHILD_CPU: list[float] = []


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compile_certlab() -> None:
    """certlab's modules byte-compiled, as installed (pip does it for a wheel; scripts/setup does it for the
    editable checkout). Without it every process would compile certlab's sources first (where
    PYTHONDONTWRITEBYTECODE is set, every process does), while duckdb and cryptography come compiled."""
    import certlab

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(certlab.__file__).parent)], check=True,
                   capture_output=True)


def run_process(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall time of one whole process (its CPU time goes to CHILD_CPU); fails loudly if it fails."""
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, text=True, check=False)
    took = time.perf_counter() - t
    CHILD_CPU.append(_children_cpu() - cpu)
    if proc.returncode not in (0,):
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return took


def certlab_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``certlab`` subprocess: this checkout's package first, no user settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["CERTLAB_ACTOR"] = "bench:admin"
    env.update(extra or {})
    return env


@dataclass
class Result:
    """One line of the report: certlab's time, the baselines' times, the ratio and the target."""

    group: str
    name: str
    certlab: float | None                 # seconds (median)
    baselines: dict[str, float] = field(default_factory=dict)
    ratio_to: str = ""                    # which baseline the ratio is against
    target: str = ""                      # in words, e.g. "<= 1.15x raw cryptography"
    limit: float | None = None            # the ratio (or seconds, when ratio_to is "") not to exceed
    at_least: float | None = None         # the ratio not to fall below (rates)
    unit: str = "s"
    notes: str = ""
    runs: int = 0
    target_on: str = "ratio"              # "ratio": limit/at_least apply to the ratio; "value": to certlab's time

    @property
    def ratio(self) -> float | None:
        if self.certlab is None or not self.ratio_to or not self.baselines.get(self.ratio_to):
            return None
        return self.certlab / self.baselines[self.ratio_to]

    @property
    def met(self) -> bool | None:
        value = self.ratio if self.target_on == "ratio" else self.certlab
        if value is None:
            return None
        if self.limit is not None:
            return value <= self.limit
        if self.at_least is not None:
            return value >= self.at_least
        return None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["met"] = self.met
        return d


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was."""
    import cryptography
    import duckdb

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        openssl = "not installed"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or os.environ.get("BENCH_COMMIT", "not a git checkout")
    from certlab import __version__

    return {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "duckdb": duckdb.__version__,
        "openssl": openssl,
        "certlab": __version__,
        "commit": commit,
    }


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def fmt_time(seconds: float | None, unit: str = "s") -> str:
    if seconds is None:
        return "–"
    if unit == "/s":
        return f"{seconds:,.0f}/s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def markdown(results: Iterable[Result], info: dict[str, Any], size: str, findings: list[str]) -> str:
    results = list(results)
    lines = [
        f"# certlab benchmarks ({size})",
        "",
        (f"Measured {info['date']} on {info['host']}: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
         f"load average {_load(info['load_average_start'])} at the start and {_load(info.get('load_average_end'))} "
         "at the end (1/5/15 min; the machine is shared, so compare the ratios: absolute times drift with the load)."),
        (f"Python {info['python']}, cryptography {info['cryptography']}, DuckDB {info['duckdb']}, {info['openssl']}, "
         f"certlab {info['certlab']} ({info['commit']}). Medians of several runs after a warm-up; "
         f"the suite took {info.get('suite_seconds', 0):.0f} s."),
    ]
    groups: list[str] = []
    for r in results:
        if r.group not in groups:
            groups.append(r.group)
    for group in groups:
        rows = [r for r in results if r.group == group]
        baseline_names: list[str] = []
        for r in rows:
            baseline_names += [b for b in r.baselines if b not in baseline_names]
        lines += ["", f"## {group}", "",
                  "| benchmark | certlab | " + " | ".join(baseline_names) + (" | " if baseline_names else "")
                  + _ratio_header(rows) + " | target | met |",
                  "|---|---:|" + "---:|" * len(baseline_names) + "---:|---|:-:|"]
        for r in rows:
            cells = [r.name, fmt_time(r.certlab, r.unit)]
            cells += [fmt_time(r.baselines[b], r.unit) if b in r.baselines else "" for b in baseline_names]
            ratio = r.ratio
            cells.append(f"{ratio:.2f}×" if ratio is not None else "")
            cells.append(r.target)
            cells.append({True: "yes", False: "**no**", None: ""}[r.met])
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        notes = [f"- {r.name}: {r.notes}" for r in rows if r.notes]
        if notes:
            lines += ["", *notes]
    if findings:
        lines += ["", "## What bounds the time, and what was fixed", "", *[f"- {f}" for f in findings]]
    return "\n".join(lines) + "\n"


def _ratio_header(rows: list[Result]) -> str:
    against = {r.ratio_to for r in rows if r.ratio_to}
    return f"ratio to {against.pop()}" if len(against) == 1 else "ratio"


def _load(values: Any) -> str:
    if not values:
        return "?"
    return "/".join(f"{v:.1f}" for v in values)


def write_reports(out_dir: Path, size: str, results: list[Result], info: dict[str, Any], findings: list[str]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"size": size, "machine": info, "results": [r.to_json() for r in results], "findings": findings}
    json_path = out_dir / f"{size}.json"
    md_path = out_dir / f"{size}.md"
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(results, info, size, findings), encoding="utf-8")
    return json_path, md_path


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
