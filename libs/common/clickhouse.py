"""ClickHouse through clickhouse-connect; `chdb://` DSNs run the same engine in-process."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client


def connect(dsn: str) -> Client:
    """A client for `http://user:pass@host:8123/db` or `chdb:///path/to/data`."""
    if dsn.startswith("chdb://"):
        Path(dsn.removeprefix("chdb://")).parent.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)
