"""`payments logs [SERVICE] [-f]`: the logs under `var/logs/`, of the services `payments up`
runs and of the embedded infrastructure, without having to know where they are."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

TAIL_LINES = 50


def available(log_dir: Path) -> list[str]:
    return sorted(p.stem for p in log_dir.glob("*.log"))


def show(
    log_dir: Path,
    service: str | None,
    out: TextIO,
    *,
    follow: bool = False,
    lines: int = TAIL_LINES,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Print the last `lines` of each chosen log (all of them without `service`), prefixed
    by its name when there are several; with `follow`, then what they get next."""
    names = [service] if service else available(log_dir)
    missing = [n for n in names if not (log_dir / f"{n}.log").is_file()]
    if missing or not names:
        known = ", ".join(available(log_dir)) or "none yet (start with `make up`)"
        print(f"no log for {', '.join(missing) or 'any service'} in {log_dir}; "
              f"logs: {known}", file=out)  # fmt: skip
        return 1
    prefix = len(names) > 1
    files = {n: (log_dir / f"{n}.log").open("rb") for n in names}
    try:
        for name, file in files.items():
            for line in file.read().splitlines()[-lines:]:
                _write(out, name if prefix else None, line)
        partial = dict.fromkeys(files, b"")
        while follow and keep_going():
            quiet = True
            for name, file in files.items():
                # A line still being written waits for its newline.
                *complete, partial[name] = (partial[name] + file.read()).split(b"\n")
                for line in complete:
                    quiet = False
                    _write(out, name if prefix else None, line)
            if quiet:
                time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        for file in files.values():
            file.close()
    return 0


def _write(out: TextIO, name: str | None, line: bytes) -> None:
    text = line.decode(errors="replace")
    out.write(f"{name:<16}| {text}\n" if name else f"{text}\n")
    out.flush()
