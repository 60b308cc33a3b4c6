"""certlab's benchmark suite: ``python -m benchmarks --size small|full`` (``tiny`` is CI's smoke run)."""
