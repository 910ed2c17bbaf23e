"""`python -m bench` runs every benchmark (for now: ingest)."""

import sys

from bench.ingest_bench import main

if __name__ == "__main__":
    sys.exit(main([]))
