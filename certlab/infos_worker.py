"""A worker of a parallel bulk read (certs.read_each): (certificate DER, source) pairs in on stdin, and
each one's CertInfo, or the error reading it, out on stdout; both pickled, between certlab and a
process it started itself. No key material."""

from __future__ import annotations

import pickle
import sys

from .certs import _infos_from_der


def main() -> int:
    items = pickle.load(sys.stdin.buffer)
    pickle.dump(_infos_from_der(items), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
