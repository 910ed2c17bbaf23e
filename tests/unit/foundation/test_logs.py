"""`payments logs`: what a user sees of the files under var/logs."""

from __future__ import annotations

import io
from pathlib import Path

from devtools.infra import logs


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.log"
    with path.open("a") as file:
        file.write(text)
    return path


def test_one_service_shows_its_last_lines(tmp_path: Path) -> None:
    _write(tmp_path, "ingest", "".join(f"line {i}\n" for i in range(100)))
    out = io.StringIO()
    assert logs.show(tmp_path, "ingest", out, lines=3) == 0
    assert out.getvalue() == "line 97\nline 98\nline 99\n"


def test_all_logs_are_prefixed_by_their_name(tmp_path: Path) -> None:
    _write(tmp_path, "ingest", "a\n")
    _write(tmp_path, "orders", "b\n")
    out = io.StringIO()
    assert logs.show(tmp_path, None, out) == 0
    assert out.getvalue().splitlines() == [f"{'ingest':<16}| a", f"{'orders':<16}| b"]


def test_an_unknown_service_names_the_logs_there_are(tmp_path: Path) -> None:
    _write(tmp_path, "ingest", "a\n")
    out = io.StringIO()
    assert logs.show(tmp_path, "nope", out) == 1
    assert "no log for nope" in out.getvalue() and "ingest" in out.getvalue()
    assert logs.show(tmp_path / "empty", None, io.StringIO()) == 1


def test_follow_prints_new_lines_once_complete(tmp_path: Path) -> None:
    path = _write(tmp_path, "ingest", "old\n")
    out = io.StringIO()
    rounds = iter([True, True, True, False])

    def keep_going() -> bool:
        # between rounds the service writes: half a line, then the rest of it
        step = next(rounds)
        size = path.stat().st_size
        if size == 4:
            _write(tmp_path, "ingest", "new ha")
        elif size == 10:
            _write(tmp_path, "ingest", "lf\n")
        return step

    assert logs.show(tmp_path, "ingest", out, follow=True, keep_going=keep_going) == 0
    assert out.getvalue() == "old\nnew half\n"
