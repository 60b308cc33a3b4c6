"""A process that uses one inventory the way one surface does, for the concurrency test.

    python tests/reliability_worker.py ROLE DB OPS SEED GO_FILE OUT_JSON [IMPORT_DIR]

ROLE is ``dashboard`` (reads, lists, summaries), ``notebook`` (reads and an occasional write) or ``cli``
(creates, imports, exports, credential changes through the real command line entry point). Every
operation is counted as done, busy (the clear "inventory busy" error after the wait) or failed (anything
else). The JSON written at the end says how many writes of each kind succeeded, so that the test can
check that none was lost.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import certlab
from certlab import Actor, CertFilter, CertSpec, InventoryBusyError, Role
from certlab.cli import main as cli_main
from certlab.models import AuditFilter


class Outcome:
    def __init__(self) -> None:
        self.done: Counter[str] = Counter()
        self.busy: Counter[str] = Counter()
        self.failed: list[str] = []
        self.expected_errors: Counter[str] = Counter()

    def run(self, kind: str, fn, *, expected: tuple[type[BaseException], ...] = ()) -> object:  # type: ignore[no-untyped-def]
        try:
            result = fn()
        except InventoryBusyError as exc:
            if not str(exc).startswith("inventory busy"):
                self.failed.append(f"{kind}: busy error with an unclear message: {exc}")
            self.busy[kind] += 1
            return None
        except expected as exc:
            self.expected_errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        except BaseException as exc:  # noqa: BLE001 - everything else is a failure the test reports
            self.failed.append(f"{kind}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
            return None
        self.done[kind] += 1
        return result


def dashboard(inv: certlab.Inventory, ops: int, rnd: random.Random, out: Outcome) -> None:
    viewer = inv.as_actor(Actor("dash_viewer", Role.AUDITOR))
    for _ in range(ops):
        choice = rnd.random()
        if choice < 0.35:
            out.run("list", lambda: viewer.list(CertFilter(limit=50)))
        elif choice < 0.55:
            out.run("count", lambda: (viewer.count(), viewer.count(CertFilter(expiring_within=90))))
        elif choice < 0.7:
            names = out.run("names", lambda: [r.name for r in viewer.list(CertFilter(limit=20))]) or []
            if names:
                out.run("get", lambda: viewer.get(rnd.choice(names)), expected=(certlab.NotFoundError,))
        elif choice < 0.85:
            out.run("audit_page", lambda: viewer.audit_events(AuditFilter(limit=25, newest_first=True)))
        elif choice < 0.95:
            out.run("credentials", viewer.credentials)
        else:
            out.run("verify", lambda: _check_verified(viewer))


def _check_verified(inv: certlab.Inventory) -> None:
    result = inv.verify_audit()
    if not result.ok:
        raise AssertionError(result.describe())


def notebook(inv: certlab.Inventory, ops: int, rnd: random.Random, out: Outcome, tag: str) -> None:
    analyst = inv.as_actor(Actor("nb_analyst", Role.ANALYST))
    made: list[str] = []
    for i in range(ops):
        choice = rnd.random()
        if choice < 0.5:
            out.run("list", lambda: analyst.list())
        elif choice < 0.7:
            out.run("count", lambda: analyst.count(CertFilter(kind="self_signed")))
        elif choice < 0.8:
            out.run("audit_page", lambda: analyst.audit_events(AuditFilter(limit=100)))
        elif choice < 0.9:
            name = f"nb_{tag}_{i}"
            if out.run("create", lambda: inv.create_self_signed(CertSpec(name=name, key_type="ec-p256",
                                                                         sans=(f"nb{i}.example.com",)))):
                made.append(name)
        elif made:
            out.run("download", lambda: inv.export(rnd.choice(made), "pem"))
        else:
            out.run("list", lambda: analyst.list())


def cli(db: Path, ops: int, rnd: random.Random, out: Outcome, tag: str, import_dir: Path) -> None:
    pw = db.parent / f"pw_{tag}.txt"
    pw.write_text("a long enough export password\n")
    imports = sorted(import_dir.glob("*.pem"))
    made: list[str] = []
    creds: list[str] = []

    def call(*args: str) -> None:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli_main(["--db", str(db), *args])
        text = err.getvalue()
        if "Traceback" in text:
            raise AssertionError(f"traceback from certlab {' '.join(args)}: {text}")
        if code != 0:
            if "inventory busy" in text:
                raise InventoryBusyError(text.strip().removeprefix("certlab: error: "))
            raise AssertionError(f"certlab {' '.join(args)} exited {code}: {text.strip()}")

    for i in range(ops):
        choice = rnd.random()
        if choice < 0.3 or not made:
            name = f"cli_{tag}_{i}"
            before = out.done["create"]
            out.run("create", lambda: call("create", "self-signed", name, "--key", "ec-p256",
                                           "--san", f"cli{i}.example.com", "--exportable"))
            if out.done["create"] > before:
                made.append(name)
        elif choice < 0.45 and imports:
            src = imports.pop()
            out.run("import", lambda: call("import", str(src)))
        elif choice < 0.6:
            out.run("export", lambda: call("export", rnd.choice(made), "--format", "pem",
                                           "--out", str(db.parent / f"out_{tag}.pem")))
        elif choice < 0.65:
            out.run("export_key", lambda: call("export", rnd.choice(made), "--format", "pkcs12",
                                               "--out", str(db.parent / f"out_{tag}.p12"), "--password-file", str(pw)))
        elif choice < 0.8:
            cname = f"cred_{tag}_{i}"
            before = out.done["credential_add"]
            out.run("credential_add", lambda: call("credential", "add", cname, "--cert", rnd.choice(made),
                                                   "--endpoint", f"https://svc{i}.example.com", "--purpose", "mtls"))
            if out.done["credential_add"] > before:
                creds.append(cname)
        elif choice < 0.9 and creds:
            out.run("credential_rebind", lambda: call("credential", "rebind", rnd.choice(creds), "--cert", rnd.choice(made)))
        elif creds:
            cname = creds.pop(rnd.randrange(len(creds)))
            before = out.done["credential_delete"]
            out.run("credential_delete", lambda: call("credential", "delete", cname))
            if out.done["credential_delete"] == before:
                creds.append(cname)
        else:
            out.run("list", lambda: call("list", "--json"))


def main() -> int:
    role, db_text, ops_text, seed_text, go_text, out_text = sys.argv[1:7]
    import_dir = Path(sys.argv[7]) if len(sys.argv) > 7 else Path(".")
    db = Path(db_text)
    rnd = random.Random(int(seed_text))
    go = Path(go_text)
    while not go.exists():
        time.sleep(0.01)
    out = Outcome()
    inv = certlab.open(db, actor=Actor(f"{role}_admin", Role.ADMIN))
    start = time.monotonic()
    if role == "dashboard":
        dashboard(inv, int(ops_text), rnd, out)
    elif role == "notebook":
        notebook(inv, int(ops_text), rnd, out, seed_text)
    else:
        cli(db, int(ops_text), rnd, out, seed_text, import_dir)
    stats = inv.db.lock_stats()
    Path(out_text).write_text(json.dumps({
        "role": role, "done": out.done, "busy": out.busy, "failed": out.failed,
        "expected_errors": out.expected_errors, "seconds": time.monotonic() - start,
        "lock": stats.to_json(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
