"""`payments up`: the embedded stack, then every service in the foreground with prefixed logs
(each service's log also goes to `var/logs/<service>.log`).

Ctrl-C (or SIGTERM) stops the services, then the infrastructure, so that nothing is left
running. A service that exits on its own brings the rest down too: a half-running system
would only mislead whoever is looking at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from devtools.infra import stack
from libs.common.settings import InfraSettings

COLORS = ["36", "35", "33", "32", "34", "31"]


async def _pump(name: str, color: str, stream: asyncio.StreamReader, log: Path) -> None:
    """Each line to the console, prefixed, and as it is to the service's own log file."""
    prefix = f"\033[{color}m{name:<10}|\033[0m " if sys.stdout.isatty() else f"{name:<10}| "
    with log.open("ab") as file:
        while line := await stream.readline():
            file.write(line)
            file.flush()
            sys.stdout.write(prefix + line.decode(errors="replace"))
            sys.stdout.flush()


def log_path(settings: InfraSettings, service: str) -> Path:
    return settings.var_dir / "logs" / f"{service}.log"


async def _run_services(settings: InfraSettings) -> int:
    # Text reads best on a console; a LOG_FORMAT the user set is theirs to keep.
    env = {"LOG_FORMAT": "text", **os.environ, **stack.service_env(settings)}
    (settings.var_dir / "logs").mkdir(parents=True, exist_ok=True)
    procs: list[asyncio.subprocess.Process] = []
    pumps = []
    for i, spec in enumerate(stack.services(settings)):
        proc = await asyncio.create_subprocess_exec(
            *spec.argv,
            env={**env, **spec.env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        color = COLORS[i % len(COLORS)]
        log = log_path(settings, spec.name)
        pumps.append(asyncio.create_task(_pump(spec.name, color, proc.stdout, log)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("all running; Ctrl-C stops everything", flush=True)
    waiters = [asyncio.create_task(p.wait()) for p in procs]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*waiters, stopper], return_when=asyncio.FIRST_COMPLETED)
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=15)
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    for pump in pumps:
        pump.cancel()
    return 0 if stop.is_set() else 1


def run(settings: InfraSettings) -> int:
    try:
        stack.up(settings)
        return asyncio.run(_run_services(settings))
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping the embedded infrastructure", flush=True)
        stack.down(settings)
