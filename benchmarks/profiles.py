"""Profiles of certlab's side of each benchmark whose target is missed at the full size.

Writes one pyinstrument text profile per operation (``SIZE-SLUG.txt``) and ``SIZE-index.md``: what was
profiled (the exact call or command, the inventory's size, the number of calls), the wall time under the
profiler and the frames with the most own and inclusive time, linking each profile.

In-process operations (issuance, queries) run under ``pyinstrument.Profiler``; commands (``certlab import``,
``certlab show``) run as ``python -m pyinstrument -m certlab ...`` in their own processes, whose saved
sessions are combined and rendered alike. pyinstrument samples the Python stack; time spent in C (DuckDB,
OpenSSL, cryptography's Rust) counts toward the Python line that called it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import data, harness
from .harness import ROOT, Size, certlab_env, compile_certlab, log

#: Seconds between stack samples: small enough that a 50 ms call gets about a hundred samples.
INTERVAL = 0.0005
#: For operations of several seconds (bulk import): thousands of samples still, and less of the profiler's cost.
LONG_INTERVAL = 0.001
TOP = 8


@dataclass
class Profile:
    """One profiled operation and what the index says about it."""

    slug: str
    title: str
    group: str          # the benchmark group (and table) this operation belongs to
    what: str           # Markdown: the exact call or command
    scale: str          # the inventory or data it ran on
    calls: int
    times: list[float]  # wall time of each profiled call or process, in seconds
    session: Any        # pyinstrument.session.Session
    note: str = ""
    interval: float = INTERVAL


def renderer() -> Any:
    from pyinstrument.renderers import ConsoleRenderer

    return ConsoleRenderer(unicode=True, color=False, show_all=False)


def profile_calls(fn: Callable[[], Any], calls: int, *, warmup: int = 1) -> tuple[Any, list[float]]:
    """Profile ``calls`` calls of ``fn`` in this process after ``warmup`` unprofiled ones."""
    from pyinstrument import Profiler

    for _ in range(warmup):
        fn()
    profiler = Profiler(interval=INTERVAL, async_mode="disabled")
    times = []
    profiler.start()
    try:
        for _ in range(calls):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    finally:
        session = profiler.stop()
    return session, times


def profile_process(args: list[str], runs: int, scratch: Path, *, warmup: int = 0, interval: float = INTERVAL,
                    setup: Callable[[], Any] | None = None) -> tuple[Any, list[float]]:
    """Run ``python -m pyinstrument -m certlab ARGS`` ``runs`` times (after ``warmup`` plain runs) and
    combine the sessions the processes saved."""
    from pyinstrument.session import Session

    env = certlab_env()
    scratch.mkdir(parents=True, exist_ok=True)
    for _ in range(warmup):
        if setup:
            setup()
        harness.run_process([sys.executable, "-m", "certlab", *args], env=env)
    combined = None
    times = []
    for i in range(runs):
        if setup:
            setup()
        out = scratch / f"run-{i}.pyisession"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pyinstrument", "--interval", str(interval), "--renderer", "pyisession",
               "--outfile", str(out), "-m", "certlab", *args]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"certlab {' '.join(args[2:4])}... under pyinstrument exited {proc.returncode}: "
                               f"{proc.stderr.strip()[-500:]}")
        session = Session.load(out)
        if combined is None:
            combined = session
        else:
            # Each process's stacks start at its own main thread's id: give them the first one's, so that the
            # processes' samples add up in one tree.
            thread = combined.start_call_stack[0]
            session.frame_records = [([thread, *stack[1:]], t) for stack, t in session.frame_records]
            combined = Session.combine(combined, session)
    return combined, times


# -- what is profiled ------------------------------------------------------------------------------------------

def issuance(size: Size, work: Path) -> list[Profile]:
    """As benchmarks/issuance.py: one RSA-2048 self-signed certificate per action on a fresh inventory."""
    import certlab
    from certlab import Actor, CertSpec
    from certlab.store import vault

    db = work / "issuance" / "certlab.duckdb"
    for p in (db, vault.key_file_for(db), db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    inv = certlab.init(db, actor=Actor("bench", "admin"))
    counter = itertools.count()

    def one() -> None:
        i = next(counter)
        inv.create_self_signed(CertSpec(name=f"bench_{i}", key_type="rsa-2048", sans=(f"bench-{i}.example.com",)))

    log(f"profiles: issuance, RSA-2048 ({size.rsa_runs} calls)")
    session, times = profile_calls(one, size.rsa_runs)
    return [Profile(
        "issuance-rsa2048", "Issuance: one RSA-2048 self-signed certificate", "issuance",
        '`inv.create_self_signed(CertSpec(name=f"bench_{i}", key_type="rsa-2048", '
        'sans=(f"bench-{i}.example.com",)))`',
        "a fresh inventory (one certificate more per call)", size.rsa_runs, times, session,
        "RSA-2048 key generation alone varies from about 40 to 300 ms from call to call.",
    )]


def queries(size: Size, work: Path) -> list[Profile]:
    """As benchmarks/queries.py: the Inventory's read methods on its shared large inventory."""
    import certlab
    from certlab import Actor, CertFilter

    from .queries import PAGE, large, samples

    path = large(size, work / "queries")  # work/large/certlab.duckdb, the suite's own cache under --work
    inv = certlab.open(path, actor=Actor("bench", "auditor"))
    n = inv.count()
    _, needle, named = samples(inv)
    names = itertools.cycle(named)
    calls = size.runs * 2 + 1
    scale = f"{n:,} certificates"
    cases = [
        ("queries-summary", "Counts by status", "`inv.summary()`", lambda: inv.summary(), ""),
        ("queries-expiry-bins", "Expiries per month", "`inv.expiry_bins('month')`", lambda: inv.expiry_bins("month"), ""),
        ("queries-expiring-page", "Expiring within 90 days, first page",
         f"`inv.certificate_page(CertFilter(expiring_within=90), page_size={PAGE})`",
         lambda: inv.certificate_page(CertFilter(expiring_within=90), page_size=PAGE), ""),
        ("queries-search", f"Text search ({needle!r}), first page",
         f"`inv.certificate_page(CertFilter(search={needle!r}), page_size={PAGE})`",
         lambda: inv.certificate_page(CertFilter(search=needle), page_size=PAGE), ""),
        ("queries-get-by-name", "Lookup by name", "`inv.get(name)`",
         lambda: inv.get(next(names)),
         f"`name` takes in turn the {len(named)} certificates that expire first ({', '.join(named)}), as the "
         "benchmark does; some hold a key the synthetic generator shares with thousands of certificates."),
    ]
    out = []
    for slug, title, what, fn, note in cases:
        log(f"profiles: {title} at {scale} ({calls} calls)")
        session, times = profile_calls(fn, calls)
        out.append(Profile(slug, f"{title} at {scale}", "queries", what, f"{scale}, prepared as the query benchmarks prepare it (benchmarks/data.py, large_inventory); actor: auditor", calls, times,
                           session, note))
    return out


def bulk_import(size: Size, work: Path) -> list[Profile]:
    """As benchmarks/bulk_import.py: ``certlab import`` of a bundle and of a directory into an empty inventory."""
    work = work / "bulk_import"
    work.mkdir(parents=True, exist_ok=True)
    pristine = data.empty_inventory(work / "pristine" / "certlab.duckdb")
    n_bundle = size.bundles[0]
    log(f"profiles: bulk import, making {max(n_bundle, size.directory):,} certificates")
    ders = data.certificates_der(max(n_bundle, size.directory))
    bundle = data.write_bundle(work / f"bundle_{n_bundle}.pem", ders[:n_bundle])
    directory = data.write_directory(work / "dir", ders[:size.directory])
    target = work / "run" / "certlab.duckdb"
    compile_certlab()
    out = []
    for slug, title, path, n, kind in (
        ("bulk-import-bundle", f"Bulk import: a PEM bundle of {n_bundle:,} certificates", bundle, n_bundle, "bundle"),
        ("bulk-import-directory", f"Bulk import: a directory of {size.directory:,} PEM files", directory,
         size.directory, "directory"),
    ):
        log(f"profiles: {title}")
        session, times = profile_process(["--db", str(target), "import", str(path), "--json"], 1,
                                         work / "sessions", interval=LONG_INTERVAL,
                                         setup=lambda: data.copy_inventory(pristine, target))
        shown = "$WORK/bulk_import/" + str(path.relative_to(work))
        out.append(Profile(
            slug, title, "bulk import",
            f"`python -m pyinstrument -m certlab --db $WORK/bulk_import/run/certlab.duckdb import {shown} --json` "
            "(one process, on a fresh copy of an empty inventory)",
            f"{n:,} certificates ({kind}) into an empty inventory", 1, times, session,
            "From 2,000 certificates certlab reads the certificates' fields in worker processes "
            "(certs.read_each); pyinstrument profiles the importing process only, where the workers' time shows "
            "as waiting for their results." if n >= 2_000 else "",
            LONG_INTERVAL,
        ))
    return out


def cli_show(size: Size, work: Path) -> list[Profile]:
    """As benchmarks/cli.py: ``certlab show NAME --json`` on an inventory of one certificate, whole processes."""
    import certlab
    from certlab import Actor, CertSpec

    db = data.empty_inventory(work / "cli" / "certlab.duckdb")
    inv = certlab.open(db, actor=Actor("bench", "admin"))
    if not any(r.name == "payments_mtls" for r in inv.list()):
        inv.create_self_signed(CertSpec(name="payments_mtls", key_type="ec-p256", sans=("pay.example.com",)))
    compile_certlab()
    runs = size.cli_runs
    log(f"profiles: certlab show NAME ({runs} processes)")
    session, times = profile_process(["--db", str(db), "show", "payments_mtls", "--json"], runs,
                                     work / "cli" / "sessions", warmup=1)
    return [Profile(
        "cli-show", "certlab show NAME", "cli",
        "`python -m pyinstrument -m certlab --db $WORK/cli/certlab.duckdb show payments_mtls --json`",
        "an inventory of one EC P-256 certificate", runs, times, session,
        f"{runs} processes after one unprofiled warm-up, their sessions combined: the profile covers each "
        "process from the start of certlab's import to its exit (pyinstrument's own start-up is not in it), "
        "so the bare `import duckdb, cryptography.x509` the benchmark compares with is inside it.",
    )]


OPERATIONS: dict[str, Callable[[Size, Path], list[Profile]]] = {
    "issuance": issuance, "queries": queries, "bulk_import": bulk_import, "cli": cli_show,
}


# -- the index ---------------------------------------------------------------------------------------------------

def frame_times(session: Any) -> tuple[float, dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """(total, own time by frame, inclusive time by frame), a frame being a function at its file and line;
    a function's inclusive time counts once when it recurses."""
    root = session.root_frame()
    own: dict[tuple[str, str], float] = {}
    incl: dict[tuple[str, str], float] = {}
    if root is None:
        return 0.0, own, incl
    stack: list[tuple[Any, frozenset[tuple[str, str]]]] = [(root, frozenset())]
    while stack:
        frame, above = stack.pop()
        if frame.is_synthetic:  # "[self]" is its parent's own time; "[root]" joins several roots
            stack.extend((child, above) for child in frame.children)
            continue
        function = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        key = (function, frame.code_position_short() or "?")
        own[key] = own.get(key, 0.0) + frame.total_self_time
        if key not in above:
            incl[key] = incl.get(key, 0.0) + frame.time
        inner = above | {key}
        stack.extend((child, inner) for child in frame.children)
    return root.time, own, incl


def _rows(items: Iterable[tuple[tuple[str, str], float]], total: float) -> list[str]:
    rows = []
    for (function, where), seconds in items:
        share = seconds / total if total else 0.0
        rows.append(f"| {harness.fmt_time(seconds)} | {share:.0%} | `{function}` | `{where}` |".replace("`?`", "?"))
    return rows


def index(profiles: list[Profile], size: Size, info: dict[str, Any], argv: list[str]) -> str:
    import pyinstrument

    lines = [
        f"# certlab profiles ({size.name})",
        "",
        (f"Made by `.venv/bin/python -m benchmarks.profiles {' '.join(argv)}` at {info['date']} on {info['host']}: "
         f"{info['cpu']}, {info['cores']} cores, load average {'/'.join(f'{v:.1f}' for v in info['load_average_start'])} "
         f"at the start; Python {info['python']}, DuckDB {info['duckdb']}, cryptography {info['cryptography']}, "
         f"certlab {info['certlab']} ({info['commit']}), pyinstrument {pyinstrument.__version__}."),
        "",
        (f"Each operation is certlab's side of a benchmark whose target is missed in the latest tables "
         f"([benchmarks/results](..)). pyinstrument samples the Python stack every {INTERVAL * 1e3:g} ms "
         f"({LONG_INTERVAL * 1e3:g} ms for the bulk imports); time spent in C (DuckDB's queries, OpenSSL, cryptography's Rust) counts toward the Python line that called "
         "it, so a frame's own time is mostly the native call it makes. Times under the profiler run longer than "
         "in the benchmark tables, and unevenly: pyinstrument's hook runs at every Python call, so call-heavy "
         "code (parsing X.509 names in a bulk import, building dataclasses at import) is inflated more than "
         "code that waits on DuckDB or OpenSSL; read the shares, not the seconds. The profiles show certlab's and the caller's frames and fold "
         "library frames away (pyinstrument's text renderer, `show_all=False`); the tables below count every "
         "frame. `$WORK` is the scratch folder (`--work`); the queries use the suite's cached inventory there."),
    ]
    for i, p in enumerate(profiles, 1):
        total, own, incl = frame_times(p.session)
        med = statistics.median(p.times)
        per = "process" if p.what.startswith("`python -m pyinstrument") else "call"
        ours = sorted(((k, v) for k, v in incl.items() if k[1].startswith("certlab/")), key=lambda kv: -kv[1])
        lines += [
            "", f"## {i}. {p.title}", "",
            f"- Profiled: {p.what}",
            f"- On: {p.scale}",
            f"- Calls: {p.calls}" + (" after one unprofiled warm-up call" if per == "call" else "")
            + f" (benchmark group: {p.group})",
            ("- Wall time under the profiler: "
             + (f"median {harness.fmt_time(med)} per {per}" if len(p.times) > 1 else harness.fmt_time(med))
             + (f" ({harness.fmt_time(min(p.times))}–{harness.fmt_time(max(p.times))}), "
                f"{harness.fmt_time(sum(p.times))} in all" if len(p.times) > 1 else "")
             + (" (each whole process, pyinstrument's start and its saving of the session included)" if per == "process"
                else "")
             + f"; {p.session.sample_count:,} samples every {p.interval * 1e3:g} ms, CPU time {p.session.cpu_time:.2f} s"),
            f"- Profile: [{size.name}-{p.slug}.txt]({size.name}-{p.slug}.txt)",
        ]
        if p.note:
            lines.append(f"- Note: {p.note}")
        lines += ["", f"Own time, top {TOP} frames (share of the {harness.fmt_time(total)} sampled):", "",
                  "| own | share | function | where |", "|---:|---:|---|---|"]
        lines += _rows(sorted(own.items(), key=lambda kv: -kv[1])[:TOP], total)
        lines += ["", f"certlab's functions by inclusive time, top {TOP + 2}:", "",
                  "| inclusive | share | function | where |", "|---:|---:|---|---|"]
        lines += _rows(ours[:TOP + 2], total)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.profiles", description=__doc__,
        epilog="Example:\n  .venv/bin/python -m benchmarks.profiles --size small --work /tmp/certlab-bench",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(harness.SIZES), default="small",
                        help="tiny (a smoke run, seconds), small (minutes), full (the targets' sizes; long)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "profiles",
                        help="where SIZE-SLUG.txt and SIZE-index.md go (default benchmarks/results/profiles)")
    parser.add_argument("--work", type=Path,
                        help="scratch folder, shared with python -m benchmarks --work to reuse its large inventory "
                             "(default: a temporary one, removed afterwards)")
    parser.add_argument("--only", action="append", choices=list(OPERATIONS), help="profile only these groups")
    args = parser.parse_args(argv)
    size = harness.SIZES[args.size]
    os.environ.pop("CERTLAB_MASTER_KEY", None)
    info = harness.machine()
    profiles: list[Profile] = []
    with tempfile.TemporaryDirectory(prefix="certlab-profiles-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        for group in args.only or OPERATIONS:
            profiles += OPERATIONS[group](size, work)
        shutil.rmtree(work / "bulk_import" / "sessions", ignore_errors=True)
        shutil.rmtree(work / "cli" / "sessions", ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    render = renderer()
    for p in profiles:
        p.session.target_description = f"{p.title}: {p.what.replace('`', '')}; {p.calls} call(s)"
        (args.out / f"{size.name}-{p.slug}.txt").write_text(render.render(p.session), encoding="utf-8")
    shown = ["--size", size.name] + [a for g in (args.only or []) for a in ("--only", g)]
    md = args.out / f"{size.name}-index.md"
    md.write_text(index(profiles, size, info, shown), encoding="utf-8")
    log(f"wrote {md} and {len(profiles)} profiles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
