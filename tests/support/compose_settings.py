"""Which settings class each docker-compose service container reads; services add themselves."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from services.ingest.settings import IngestSettings
from services.orders.settings import OrdersSettings

SETTINGS_BY_SERVICE: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "orders-worker": OrdersSettings,
    "orders-api": OrdersSettings,
}
