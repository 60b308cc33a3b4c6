"""6. The dashboard at scale: each page's script run (Streamlit AppTest), signed in as an admin, on an
inventory of many certificates (and as many audit events)."""

from __future__ import annotations

import os
from pathlib import Path

from . import data
from .harness import ROOT, Result, Size, log, measure

SKIP = {"sign_in", "change_password"}  # pages of the signed-out flow


def run(size: Size, work: Path) -> list[Result]:
    app = ROOT / "dashboard" / "app.py"
    pages = ROOT / "dashboard" / "pages"
    if not app.exists() or not pages.is_dir():
        return [Result("dashboard", "each page's script run (AppTest)", None, target="≤ 2 s at 100,000",
                       notes="the dashboard is not in this checkout yet: nothing measured")]
    from streamlit.testing.v1 import AppTest

    from certlab import Actor, Role

    state = __import__("dashboard.state", fromlist=["ACTOR"])
    db = data.large_inventory(work / "certlab.duckdb", size.dashboard_certs, audit_events=size.dashboard_certs)
    old = os.environ.get("CERTLAB_DB")
    os.environ["CERTLAB_DB"] = str(db)
    results = []
    try:
        at = AppTest.from_file(str(app), default_timeout=120)
        at.session_state[state.ACTOR] = Actor("bench-admin", Role.ADMIN)
        if hasattr(state, "MUST_CHANGE_PASSWORD"):
            at.session_state[state.MUST_CHANGE_PASSWORD] = False
        at.run()
        for page in sorted(p.stem for p in pages.glob("*.py") if p.stem not in SKIP and not p.stem.startswith("_")):
            log(f"dashboard: page {page}")
            stat = measure(lambda page=page: at.switch_page(f"pages/{page}.py").run(), size.runs)
            problems = [str(e.value)[:120] for e in at.exception] + [str(e.value)[:120] for e in at.error]
            results.append(Result(
                "dashboard", f"page {page} at {size.dashboard_certs:,} certificates", stat.median,
                target="≤ 2 s", limit=2.0, target_on="value", runs=size.runs,
                notes=("the page showed: " + "; ".join(problems)) if problems else "",
            ))
    finally:
        if old is None:
            os.environ.pop("CERTLAB_DB", None)
        else:
            os.environ["CERTLAB_DB"] = old
    return results
