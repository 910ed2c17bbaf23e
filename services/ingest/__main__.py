"""`python -m services.ingest serve|backfill …` (see services/ingest/commands.py)."""

import sys

from services.ingest.commands import main

if __name__ == "__main__":
    sys.exit(main())
