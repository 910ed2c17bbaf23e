"""Ingest benchmark: `python -m bench.ingest_bench` (or `make bench`).

Starts a Tansu broker and PostgreSQL of its own (in a temporary folder, free loopback ports),
ingest as a process (`python -m services.ingest serve`) and a bare aiohttp handler as a process
(reads the body, answers 200). The load generator (`bench/loadgen.py`, a third process) drives
both with the same signed webhooks: closed-loop for the sustained rate, in rounds that
alternate between the two servers, then open-loop at a fixed rate for latency. The ratio
ingest / bare, taken per round and reported as the median, is the figure that carries across
machines. Bounded: a fixed number of requests per phase and a timeout on every process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.infra.components import Kafka, Postgres
from devtools.infra.process import free_port, read_pid
from libs.common.kafka.admin import ensure_topics
from libs.common.topics import TopicNames

SECRET = "whsec_bench_only"
PHASE_TIMEOUT_S = 180


def serve_bare(port: int, *, uvloop: bool = False) -> None:
    """The baseline: the least an aiohttp webhook handler can do (on asyncio's own event loop
    unless `uvloop`, the loop ingest runs on)."""
    import asyncio

    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"received": True})

    app = web.Application()
    app.router.add_post("/webhooks/stripe", handle)
    app.router.add_get("/healthz", lambda _: handle_health())
    import uvloop as uv

    loop = uv.new_event_loop() if uvloop else asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


async def handle_health() -> Any:
    from aiohttp import web

    return web.json_response({"status": "ok"})


def _wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 in {timeout} s")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, its live descendants and its reaped children
    (Linux; None elsewhere): PostgreSQL works in one child process per connection."""
    own = _stat(pid)
    if own is None:
        return None
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = sum(int(f) for f in own[11:15])  # its own and its reaped children's
    for member in tree - {pid}:
        if (fields := _stat(member)) is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def process(
    argv: list[str], env: dict[str, str], health: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ok(health, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def load(url: str, run: str, count: int, rate: float, concurrency: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.loadgen", "--url", url, "--secret", SECRET]
    argv += ["--run", run, "--count", str(count), "--rate", str(rate)]
    argv += ["--concurrency", str(concurrency)]
    done = subprocess.run(argv, capture_output=True, check=True, timeout=PHASE_TIMEOUT_S)
    return dict(json.loads(done.stdout))


@dataclass(frozen=True)
class Server:
    """A server under load: its webhook URL and the processes whose CPU time counts."""

    name: str
    url: str
    pids: dict[str, int]  # "server" and whatever else it relies on (broker, PostgreSQL)
    metrics_url: str | None = None


def sustained(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """One closed-loop phase with fresh event ids. Besides the rate: CPU time per request of
    each process named (over the whole phase) and of the load generator (while it sends);
    these depend less on what else the machine is doing than the rates do."""
    before = {name: cpu_seconds(pid) for name, pid in server.pids.items()}
    batches_before = scrape(server.metrics_url) if server.metrics_url else None
    tag = uuid.uuid4().hex[:6]
    result = load(server.url, f"s{tag}", args.count, 0, args.concurrency)
    after = {name: cpu_seconds(pid) for name, pid in server.pids.items()}
    result["loadgen_cpu_us"] = result.pop("cpu_us", None)
    for name, start in before.items():
        end = after[name]
        if start is not None and end is not None:
            result[f"{name}_cpu_us"] = round((end - start) / args.count * 1e6)
    if batches_before is not None and server.metrics_url:
        result["mean_batch"] = mean_batch(batches_before, scrape(server.metrics_url))
    return result


def at_rate(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    count = int(args.rate * args.rate_seconds)
    return load(server.url, f"r{tag}", count, args.rate, args.concurrency)


def compare(servers: list[Server], args: argparse.Namespace) -> dict[str, Any]:
    """Warm both up, then rounds of one sustained phase each, the order alternating, so that
    the two figures of a round are taken seconds apart: the ratio of each round holds even
    while other work on the machine comes and goes. Then the fixed-rate phase of each."""
    for server in servers:
        load(server.url, f"w{uuid.uuid4().hex[:6]}", args.warmup, 0, args.concurrency)
    rounds = []
    for number in range(args.rounds):
        order = servers if number % 2 == 0 else servers[::-1]
        rounds.append({server.name: sustained(server, args) for server in order})
    return {"rounds": rounds, "at_rate": {server.name: at_rate(server, args) for server in servers}}


def ingest_env(kafka: str, database: str, port: int, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database,
        "TOPIC_PREFIX": prefix,
        "INGEST_PORT": str(port),
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": SECRET,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "BACKFILL_ON_START": "false",
        "BACKFILL_INTERVAL_S": "0",
        "LOG_LEVEL": "WARNING",
    }


def scrape(metrics_url: str) -> dict[str, float]:
    """Ingest's counters, summed over their labels: events published, mean batch size."""
    with urllib.request.urlopen(metrics_url, timeout=5) as resp:  # noqa: S310 - loopback
        text = resp.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return {
        "published": totals.get("ingest_events_published_total", 0.0),
        "batched": totals.get("ingest_publish_batch_size_sum", 0.0),
        "batches": totals.get("ingest_publish_batch_size_count", 0.0),
    }


def mean_batch(before: dict[str, float], after: dict[str, float]) -> float:
    batches = after["batches"] - before["batches"]
    return round((after["batched"] - before["batched"]) / batches, 1) if batches else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ibench"))
    kafka, postgres = Kafka(work, free_port()), Postgres(work, free_port())
    try:
        kafka.up(60)
        postgres.up(60)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        ensure_topics(kafka.url(), TopicNames(prefix).all_names())
        bare_port, ingest_port = free_port(), free_port()
        bare_argv = [sys.executable, "-m", "bench.ingest_bench", "--serve-bare", str(bare_port)]
        bare_argv += ["--bare-uvloop"] if args.bare_uvloop else []
        bare_base = f"http://127.0.0.1:{bare_port}"
        env = ingest_env(kafka.url(), postgres.url(), ingest_port, prefix)
        argv = [sys.executable, "-m", "services.ingest", "serve"]
        if args.profile:
            argv[1:1] = ["-m", "cProfile", "-o", args.profile]
        base = f"http://127.0.0.1:{ingest_port}"
        with (
            process(bare_argv, dict(os.environ), f"{bare_base}/healthz", work / "bare.log") as b,
            process(argv, env, f"{base}/readyz", work / "ingest.log") as i,
        ):
            pids = {"server": i.pid, "broker": read_pid(kafka.pid_file) or 0}
            pids["postgres"] = read_pid(postgres.pid_file) or 0
            servers = [
                Server("bare", f"{bare_base}/webhooks/stripe", {"server": b.pid}),
                Server("ingest", f"{base}/webhooks/stripe", pids, f"{base}/metrics"),
            ]
            results = compare(servers, args)
            results["published"] = scrape(f"{base}/metrics")["published"]
    finally:
        postgres.down()
        kafka.down()
        for data in (postgres.data_dir, kafka.data_dir):  # ~170 MB a run; the logs stay
            shutil.rmtree(data, ignore_errors=True)
    for one in results["rounds"]:
        bare, ingest = one["bare"]["per_s"], one["ingest"]["per_s"]
        one["ratio"] = round(ingest / bare, 3) if bare else 0.0
    results["ratio"] = statistics.median(one["ratio"] for one in results["rounds"])
    return results


def _median(rounds: list[dict[str, Any]], server: str, field: str) -> Any:
    values = [one[server][field] for one in rounds if field in one[server]]
    return round(statistics.median(values), 1) if values else "-"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    rounds = results["rounds"]
    lines = [
        f"sustained, {args.count} requests closed-loop ({args.concurrency} in flight) per round",
        f"{'round':>6} {'bare/s':>9} {'ingest/s':>9} {'ratio':>6} {'CPU µs/req bare':>16}"
        f" {'ingest':>7} {'broker':>7} {'PostgreSQL':>11} {'claim batch':>12}",
    ]

    def row(label: str, pick: Any) -> str:
        return (
            f"{label:>6} {pick('bare', 'per_s'):>9} {pick('ingest', 'per_s'):>9}"
            f" {pick('', 'ratio'):>6} {pick('bare', 'server_cpu_us'):>16}"
            f" {pick('ingest', 'server_cpu_us'):>7} {pick('ingest', 'broker_cpu_us'):>7}"
            f" {pick('ingest', 'postgres_cpu_us'):>11} {pick('ingest', 'mean_batch'):>12}"
        )

    for number, one in enumerate(rounds, 1):
        lines.append(row(str(number), lambda s, f, o=one: (o[s] if s else o).get(f, "-")))
    lines.append(
        row(
            "median",
            lambda s, f: _median(rounds, s, f) if s else results["ratio"],
        )
    )
    lines.append(
        "load generator CPU µs/req (median): "
        f"{_median(rounds, 'bare', 'loadgen_cpu_us')} against bare, "
        f"{_median(rounds, 'ingest', 'loadgen_cpu_us')} against ingest"
    )
    lines.append(f"at {int(args.rate)}/s for {args.rate_seconds:g} s:")
    for name, phase in results["at_rate"].items():
        lines.append(
            f"  {name:7} p50 {phase['p50_ms']} ms, p99 {phase['p99_ms']} ms,"
            f" errors {phase['errors']}"
        )
    errors = sum(one[name]["errors"] for one in rounds for name in ("bare", "ingest"))
    lines.append(f"errors while sustained: {errors}")
    lines.append(f"events published by ingest: {int(results['published'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="requests per sustained phase")
    parser.add_argument("--rounds", type=int, default=5, help="sustained phases per server")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, per s")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print the raw results too")
    parser.add_argument("--profile", help="write a cProfile of the ingest process here")
    parser.add_argument(
        "--bare-uvloop", action="store_true", help="run the bare handler on uvloop, as ingest"
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, uvloop=args.bare_uvloop)
        return 0
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
