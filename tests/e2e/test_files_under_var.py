"""What the services write lands under VAR_DIR, where `make clean` removes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.system import System

pytestmark = pytest.mark.e2e


def test_the_worker_keeps_its_data_under_var(system: System) -> None:
    # the worker runs in this folder, with the default VAR_DIR
    name = f"{system.env['TOPIC_PREFIX']}{system.env['ORDERS_WORKER_ID']}-data"
    assert (Path("var") / "faust" / name).is_dir()
    assert not Path(name).exists()
