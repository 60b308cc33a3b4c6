"""5. The CLI feels instant: ``certlab --help`` and ``certlab show NAME`` against a bare
``python -c "import duckdb, cryptography.x509"``, and which heavy modules the CLI path imports."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from . import data
from .harness import CHILD_CPU, Result, Size, certlab_env, log, run_process

FINDINGS = [
    ("CLI start-up: importing certlab.cli ran certlab/__init__, which imported every Inventory mixin, the CA, "
    "formats and cryptography before argparse ran. Fixed: the package's public names load on first use "
    "(PEP 562), so certlab --help loads neither cryptography nor DuckDB, and no command loads pandas, pyarrow, "
    "numpy, altair or streamlit (checked from sys.modules; python -X importtime misses importlib loads). "
    "certlab show still imports every mixin module (the Inventory class is their union: some 55 dataclasses "
    "are built at import), builds every command's parser, creates one in-memory DuckDB instance (~25 ms of CPU) "
    "and lints the certificate: that is what it pays over the bare import. Fixed since: smtplib, ssl's users in "
    "reminders, urllib, email, getpass and uuid load only when used; a read no longer opens the file twice (a "
    "read-write open for the schema check, then the read); certlab is byte-compiled by setup (where "
    "PYTHONDONTWRITEBYTECODE is set every run compiled certlab's sources, ~2× the bare import on its own)."),
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
    # As installed: certlab's modules byte-compiled (pip does it for a wheel; scripts/setup does it for the
    # editable checkout). Without it every run would compile certlab's sources first (where
    # PYTHONDONTWRITEBYTECODE is set, every run does), while duckdb and cryptography come compiled.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(certlab.__file__).parent)], check=True,
                   capture_output=True)
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

