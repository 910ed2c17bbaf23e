"""docker-compose.yml stays wired to real settings: every variable it sets is read by the
service it is set on, so a renamed setting cannot silently fall back to a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from tests.support.compose_settings import SETTINGS_BY_SERVICE

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
INFRA_IMAGES = {"kafka", "postgres", "clickhouse", "stripe-emulator"}


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def _fields(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields}


def test_every_service_container_has_a_settings_class() -> None:
    ours = set(_services()) - INFRA_IMAGES
    assert ours == set(SETTINGS_BY_SERVICE)


@pytest.mark.parametrize("name", sorted(SETTINGS_BY_SERVICE))
def test_environment_names_are_real_settings(name: str) -> None:
    env = _services()[name].get("environment", {})
    unknown = set(env) - _fields(SETTINGS_BY_SERVICE[name])
    assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_settings_validate_the_compose_values() -> None:
    for name, settings in SETTINGS_BY_SERVICE.items():
        env = {k.lower(): v for k, v in _services()[name].get("environment", {}).items()}
        settings.model_validate(env)
