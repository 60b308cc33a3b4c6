"""CI's smoke run of the benchmark suite: it runs end to end at a tiny size and writes well-formed reports.

No timing is asserted: benchmarks are not tests. This only keeps the suite from rotting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {"issuance", "bulk import", "queries", "audit", "cli", "dashboard", "concurrency"}


@pytest.mark.slow
def test_tiny_run_writes_json_and_markdown(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--size", "tiny", "--out", str(tmp_path / "out"),
                           "--work", str(tmp_path / "work")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert doc["size"] == "tiny"
    for key in ("date", "cpu", "cores", "python", "cryptography", "duckdb", "openssl", "load_average_start",
                "load_average_end", "commit"):
        assert key in doc["machine"], key
    results = doc["results"]
    assert {r["group"] for r in results} == GROUPS
    for r in results:
        assert r["name"] and r["target"] is not None
        if r["group"] != "dashboard" or r["certlab"] is not None:
            assert r["certlab"] is not None and r["certlab"] > 0, r
            assert all(v > 0 for v in r["baselines"].values()), r
        if r["ratio_to"] and r["certlab"] is not None:
            assert r["ratio"] == pytest.approx(r["certlab"] / r["baselines"][r["ratio_to"]])
        assert r["met"] in (True, False, None)
    issuance = {r["name"]: r for r in results if r["group"] == "issuance"}
    assert any("RSA-2048" in n and set(r["baselines"]) == {"raw cryptography", "openssl CLI"}
               for n, r in issuance.items())
    md = (tmp_path / "out" / "tiny.md").read_text()
    assert md.startswith("# certlab benchmarks (tiny)")
    assert doc["machine"]["cpu"] in md and doc["machine"]["duckdb"] in md
    for group in GROUPS:
        header = md.index(f"## {group}\n")
        table = md[header:].split("\n\n")[1].splitlines()
        assert table[0].startswith("| benchmark | certlab |") and table[1].startswith("|---")
        width = table[0].count("|")
        assert all(line.count("|") - line.count("\\|") == width for line in table[2:]), table
    assert md == proc.stdout  # the report is also printed


#: Each profile the tiny run writes, and a certlab function it must name: the operation profiled.
PROFILES = {
    "issuance-rsa2048": "Inventory.create_self_signed",
    "queries-summary": "Inventory.summary",
    "queries-expiry-bins": "Inventory.expiry_bins",
    "queries-expiring-page": "Inventory.certificate_page",
    "queries-search": "Inventory.certificate_page",
    "queries-get-by-name": "Inventory.get",
    "bulk-import-bundle": "Inventory.import_files",
    "bulk-import-directory": "Inventory.import_files",
    "cli-show": "cmd_show",
}


def test_tiny_profiles_name_certlab_functions(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.profiles", "--size", "tiny", "--out", str(out),
                           "--work", str(tmp_path / "work")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = (out / "tiny-index.md").read_text(encoding="utf-8")
    assert index.startswith("# certlab profiles (tiny)")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["tiny-index.md", *(f"tiny-{slug}.txt" for slug in PROFILES)])
    for slug, function in PROFILES.items():
        text = (out / f"tiny-{slug}.txt").read_text(encoding="utf-8")
        assert "Samples:" in text and "certlab/" in text, slug
        assert function in text, (slug, text[:2000])
        assert "\x1b[" not in text, slug  # no colour codes
        assert f"(tiny-{slug}.txt)" in index
        section = index[index.index(f"(tiny-{slug}.txt)"):].split("\n## ")[0]
        assert f"| `{function}` | `certlab/" in section, (slug, section)  # the index's tables name it too
    assert "PRIVATE KEY" not in index
