"""The whole embedded stack: the components in start order, and the services `make up` runs."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from devtools.infra import postgres
from devtools.infra.components import ClickHouse, Component, Kafka, Postgres, StripeEmulator
from libs.common.settings import InfraSettings


@dataclass(frozen=True)
class ServiceSpec:
    """A service that `make up` runs in the foreground, and how to ask it if it is healthy."""

    name: str
    argv: list[str]
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def components(settings: InfraSettings) -> list[Component]:
    return [
        Kafka(settings.var_dir, settings.embedded_kafka_port),
        Postgres(settings.var_dir, settings.embedded_postgres_port),
        ClickHouse(settings.var_dir, 0),
        StripeEmulator(settings.var_dir, settings.stripe_emulator_port),
    ]


def services(settings: InfraSettings) -> list[ServiceSpec]:
    """Services join this list as their issues land."""
    from services.ingest.settings import IngestSettings
    from services.orders.settings import OrdersSettings

    ingest = IngestSettings()
    orders = OrdersSettings()
    return [
        # Embedded mode: ingest registers its endpoints with the emulator at start-up.
        ServiceSpec(
            name="ingest",
            argv=[sys.executable, "-m", "services.ingest", "serve"],
            health_url=f"http://127.0.0.1:{ingest.ingest_port}/healthz",
            env={"INGEST_PORT": str(ingest.ingest_port)},
        ),
        ServiceSpec(
            name="orders",
            argv=[sys.executable, "-m", "services.orders", "worker"],
            health_url=f"http://127.0.0.1:{orders.orders_worker_port}/healthz",
        ),
        ServiceSpec(
            name="orders-api",
            argv=[sys.executable, "-m", "services.orders", "api"],
            health_url=f"http://127.0.0.1:{orders.orders_port}/healthz",
        ),
    ]


def service_env(settings: InfraSettings) -> dict[str, str]:
    """What every service started by `make up` is told about the embedded infrastructure."""
    by_name = {c.name: c for c in components(settings)}
    return {
        "KAFKA_BOOTSTRAP_SERVERS": by_name["kafka"].url(),
        "DATABASE_URL": by_name["postgres"].url(),
        "CLICKHOUSE_DSN": by_name["clickhouse"].url(),
        "STRIPE_API_BASE": by_name["stripe-emulator"].url(),
        "VAR_DIR": str(settings.var_dir.resolve()),
    }


def up(settings: InfraSettings, out: Any = sys.stdout) -> None:
    outcomes: dict[str, str] = {}
    for component in components(settings):
        outcomes[component.name] = component.up(settings.infra_start_timeout_s)
        print(f"{component.name:<16} {outcomes[component.name]:<8} {component.url()}",
              file=out, flush=True)  # fmt: skip
    if outcomes.get("kafka") == "started":
        _fresh_world(settings, out)


def _fresh_world(settings: InfraSettings, out: Any) -> None:
    """Tansu keeps its records in memory only, so a broker that starts has lost every event,
    fact and order table (the orders worker's state is a changelog topic). What the rest
    remembers about them would point at nothing: ingest would answer "duplicate" to events
    the broker never got, the read model would show orders no worker knows, and buyers would
    keep Stripe customers an emulator restarted with it forgot. The embedded world is
    therefore fresh as a whole whenever its broker is: the payments database, the Stripe
    emulator, the worker's folder and the ClickHouse folder are reset with it."""
    by_name = {c.name: c for c in components(settings)}
    database = by_name["postgres"]
    assert isinstance(database, Postgres)
    postgres.empty_database(database.port, database.database)
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{by_name['stripe-emulator'].url()}/_emulator/reset", data=b"{}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback only
        resp.read()
    for folder in ("faust", "clickhouse"):
        shutil.rmtree(settings.var_dir / folder, ignore_errors=True)
    (settings.var_dir / "clickhouse").mkdir(parents=True, exist_ok=True)
    reset = "the broker came up empty, so the payments database and the Stripe emulator were "
    print(reset + "reset with it (the embedded world is fresh as a whole)", file=out, flush=True)


def down(settings: InfraSettings, out: Any = sys.stdout) -> None:
    for component in reversed(components(settings)):
        stopped = component.down()
        print(f"{component.name:<16} {'stopped' if stopped else 'not running'}", file=out)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return bool(resp.status == 200)
    except OSError:
        return False


def status(settings: InfraSettings) -> dict[str, Any]:
    """One JSON-able object: each component and service, where it is and whether it answers."""
    report: dict[str, Any] = {"components": {}, "services": {}}
    for component in components(settings):
        report["components"][component.name] = {
            "url": component.url(),
            "healthy": component.healthy(),
        }
    for spec in services(settings):
        report["services"][spec.name] = {
            "url": spec.health_url,
            "healthy": bool(spec.health_url and _http_ok(spec.health_url)),
        }
    report["healthy"] = all(
        entry["healthy"] for group in ("components", "services") for entry in report[group].values()
    )
    return report


def print_status(settings: InfraSettings, as_json: bool, out: Any = sys.stdout) -> bool:
    report = status(settings)
    if as_json:
        print(json.dumps(report, indent=2), file=out)
        return bool(report["healthy"])
    for group in ("components", "services"):
        for name, entry in report[group].items():
            mark = "healthy" if entry["healthy"] else "DOWN"
            print(f"{name:<16} {mark:<8} {entry['url']}", file=out)
    return bool(report["healthy"])
