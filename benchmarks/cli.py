"""5. The CLI feels instant: ``certlab --help`` and ``certlab show NAME`` against a bare
``python -c "import duckdb, cryptography.x509"``, and which heavy modules the CLI path imports."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from . import data
from .harness import CHILD_CPU, Result, Size, certlab_env, compile_certlab, log, run_process

FINDINGS = [
    ("CLI start-up: importing certlab.cli ran certlab/__init__, which imported every Inventory mixin, the CA, "
    "formats and cryptography before argparse ran. Fixed: the package's public names load on first use "
    "(PEP 562), so certlab --help loads neither cryptography nor DuckDB, and no command loads pandas, pyarrow, "
    "numpy, altair or streamlit (checked from sys.modules; python -X importtime misses importlib loads). "
    "Fixed since: smtplib, ssl's users in reminders, urllib, email, getpass and uuid load only when used; a read "
    "no longer opens the file twice (a read-write open for the schema check, then the read); certlab is "
    "byte-compiled by setup (where PYTHONDONTWRITEBYTECODE is set every run compiled certlab's sources, ~2× "
    "the bare import on its own)."),
    ("certlab show NAME, missed: about 2.0× before the fixes below, 1.7× after (the minimum of interleaved runs "
    "2.2× to 1.73×). Fixed: a command builds only its own parser (certlab.cli.COMMANDS, checked against the whole "
    "parser by tests/test_cli_commands.py; --help and unknown words still build every command's); the Inventory "
    "imports ssl and the TLS client, the e-mail reminders, the CA, CSR building and cryptography's PKCS#7 module "
    "(which loads email.policy) only in the methods that use them; and the mixins' 23 result types (Summary, "
    "ScanResult, User, ...) live in certlab/inventory/results.py, loaded on first use (a frozen dataclass costs "
    "about a millisecond to build; together they were ~0.1× here). What bounds the rest, from a profile of one "
    "run, as shares of the bare import's own time: importing the Inventory ~0.27× (its ten mixin classes with "
    "the models, certs, vault, store and formats modules it reads with: some 20 dataclasses and 5 enums, and "
    "cryptography's serialization package, which imports its SSH and cipher modules); DuckDB's in-memory instance "
    "~0.2× (the catalog of built-in functions and statically linked extensions: a fixed cost of opening any "
    "DuckDB) and closing it at exit ~0.02×; importing lint and get() ~0.2× (the first ATTACH of the file, then "
    "the record, its credentials and lint's issuer, shared-key, usage and endpoint lookups); the CLI and the "
    "show parser ~0.08×. All of it is work show does; 1.5× would need show to read without the Inventory class "
    "(every mixin module) or without lint."),
    ("certlab show NAME, timed in stages at a later run (the bare import ~220 ms): the CLI ~10 ms, importing the "
    "Inventory ~60 ms, DuckDB's instance ~45 ms, the first get() ~55 ms (a second one takes ~25 ms: the first "
    "pays the ATTACH, lint's import and the first OpenSSL use). Building the instance on a thread while the "
    "rest imports was measured at 7-10 ms less over 40 interleaved runs (the imports hold the GIL most of the "
    "time) and not kept. The ratio moves by a few tenths between runs on this shared machine."),
]


HEAVY = ("pandas", "pyarrow", "numpy", "altair", "streamlit", "ipywidgets", "IPython", "lxml", "signxml", "jwt")

_PROBE = """
import runpy, sys
sys.argv = ["certlab", *sys.argv[1:]]
try:
    runpy.run_module("certlab", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + " ".join(sorted({m.split(".")[0] for m in sys.modules})) + "\\n")
"""


def imported_modules(args: list[str]) -> set[str]:
    """Top-level modules a ``certlab`` command has loaded when it ends (``python -X importtime`` misses
    modules loaded through importlib, as certlab's lazy names and command modules are)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=certlab_env(),
                          check=False)
    for line in proc.stderr.splitlines():
        if line.startswith("MODULES "):
            return set(line.split()[1:])
    raise RuntimeError(f"certlab {' '.join(args)}: no module list ({proc.stderr.strip()[-300:]})")


def run(size: Size, work: Path) -> list[Result]:
    import certlab
    from certlab import Actor, CertSpec

    db = data.empty_inventory(work / "certlab.duckdb")
    certlab.open(db, actor=Actor("bench", "admin")).create_self_signed(
        CertSpec(name="payments_mtls", key_type="ec-p256", sans=("pay.example.com",)))
    env = certlab_env()
    compile_certlab()
    bare = [sys.executable, "-c", "import duckdb, cryptography.x509"]
    commands = {
        "certlab --help": [sys.executable, "-m", "certlab", "--help"],
        "certlab show NAME": [sys.executable, "-m", "certlab", "--db", str(db), "show", "payments_mtls", "--json"],
    }
    results = []
    for label, cmd in commands.items():
        log(f"cli: {label}")
        # Interleave by hand: both are whole processes, equally exposed to the machine's load.
        c_times, b_times, c_cpu, b_cpu = [], [], [], []
        for _ in range(size.cli_runs + 1):
            c_times.append(run_process(cmd, env=env))
            c_cpu.append(CHILD_CPU[-1])
            b_times.append(run_process(bare, env=env))
            b_cpu.append(CHILD_CPU[-1])
        c, b = statistics.median(c_times[1:]), statistics.median(b_times[1:])
        cpu_ratio = statistics.median(c_cpu[1:]) / statistics.median(b_cpu[1:])
        heavy = sorted(imported_modules(cmd[3:]) & set(HEAVY))
        results.append(Result(
            "cli", label, c, {"python -c 'import duckdb, cryptography.x509'": b},
            ratio_to="python -c 'import duckdb, cryptography.x509'", target="≤ 1.5×", limit=1.5,
            runs=size.cli_runs,
            notes=f"CPU time ratio {cpu_ratio:.2f}×; " + (("heavy modules imported: " + ", ".join(heavy)) if heavy else
                  "imports none of " + ", ".join(HEAVY) + " (sys.modules at exit)"),
        ))
    return results

