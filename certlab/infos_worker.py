"""A worker of a parallel bulk read (certs.read_infos): certificates (DER) in on stdin, their CertInfo
out on stdout, both pickled, between certlab and a process it started itself. No key material."""

from __future__ import annotations

import pickle
import sys

from .certs import _infos_from_der
from .errors import CertlabError


def main() -> int:
    ders, source = pickle.load(sys.stdin.buffer)
    try:
        result: tuple[str, object] = ("ok", _infos_from_der(ders, source))
    except CertlabError as exc:
        result = ("error", exc)
    pickle.dump(result, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
