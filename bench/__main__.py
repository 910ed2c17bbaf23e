"""`python -m bench` (`make bench`) runs every benchmark, one after the other."""

import sys

from bench import ingest_bench, orders_bench

if __name__ == "__main__":
    codes = [ingest_bench.main([]), orders_bench.main([])]
    sys.exit(max(codes))
