"""Running the project's own processes (emulator, services) from tests, with their output in a
log file that a failing test can point to."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        return int(self.process.returncode)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start(
    name: str,
    module_args: list[str],
    *,
    env: Mapping[str, str],
    log_dir: Path,
    health_url: str | None = None,
    timeout: float = 60.0,
) -> Running:
    """Start `python -m <module_args>` in its own process group; wait for `health_url`."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(name, process, log)
    deadline = time.monotonic() + timeout
    while health_url and not http_ok(health_url):
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"{name} did not become healthy:\n{running.tail()}")
        time.sleep(0.1)
    return running


@contextlib.contextmanager
def started(
    name: str,
    module_args: list[str],
    *,
    env: Mapping[str, str],
    log_dir: Path,
    health_url: str | None = None,
) -> Iterator[Running]:
    running = start(name, module_args, env=env, log_dir=log_dir, health_url=health_url)
    try:
        yield running
    finally:
        running.stop()
