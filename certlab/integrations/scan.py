"""Endpoint discovery: fetch the chain many endpoints serve, concurrently, with a bound on connections.

Nothing here validates: discovery records what is served, trusted or not. Each endpoint's failure
(refused, timeout, no TLS) is its own result, never an exception for the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from ..errors import InvalidInputError
from .tls import ConnectFailure, Endpoint, ServedChain, fetch_chain

MAX_WORKERS = 64
DEFAULT_WORKERS = 8
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Fetched:
    """One endpoint's outcome: the served chain, or the problem and its reason."""

    endpoint: Endpoint
    served: ServedChain | None
    problem: str | None = None
    reason: str | None = None


def parse_targets(targets: Sequence[str]) -> list[Endpoint]:
    """HOST:PORT, [IPv6]:PORT or a URL; duplicates dropped, order kept."""
    if not targets:
        raise InvalidInputError("give at least one endpoint to scan (HOST:PORT)")
    seen: dict[str, Endpoint] = {}
    for t in targets:
        ep = Endpoint.parse(t)
        seen.setdefault(ep.authority.lower(), Endpoint(ep.host.lower(), ep.port))
    return list(seen.values())


def fetch_all(endpoints: Sequence[Endpoint], *, timeout: float = DEFAULT_TIMEOUT, workers: int = DEFAULT_WORKERS,
              progress: Callable[[int, int], None] | None = None) -> list[Fetched]:
    """Fetch every endpoint's chain with at most ``workers`` connections at once; results in input order."""
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInputError(f"--workers must be in 1..{MAX_WORKERS}, not {workers}")
    if not 0 < timeout <= 300:
        raise InvalidInputError(f"--timeout must be in (0, 300] seconds, not {timeout}")
    results: dict[int, Fetched] = {}
    with ThreadPoolExecutor(max_workers=min(workers, len(endpoints)) or 1, thread_name_prefix="certlab-scan") as pool:
        futures = {pool.submit(_fetch_one, ep, timeout): i for i, ep in enumerate(endpoints)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(endpoints))
    return [results[i] for i in range(len(endpoints))]


def _fetch_one(endpoint: Endpoint, timeout: float) -> Fetched:
    try:
        served = fetch_chain(endpoint, timeout)
    except ConnectFailure as fail:
        return Fetched(endpoint, None, fail.problem, fail.reason)
    except Exception as exc:  # noqa: BLE001 - one odd endpoint must not end the batch
        return Fetched(endpoint, None, "tls_error", f"{endpoint.authority}: {type(exc).__name__}: {exc}")
    if not served.certificates:
        return Fetched(endpoint, None, "no_certificate", f"{endpoint.authority}: the server sent no certificate")
    return Fetched(endpoint, served)
