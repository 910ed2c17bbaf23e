"""Ingest benchmark: `python -m bench.ingest_bench` (or `make bench`).

Starts a Tansu broker and PostgreSQL of its own (in a temporary folder, free loopback ports),
ingest as a process (`python -m services.ingest serve`) and a bare aiohttp handler as a process
(reads the body, answers 200). The load generator (`bench/loadgen.py`, a third process) drives
both with the same signed webhooks: closed-loop for the sustained rate, in rounds that
alternate between the two servers, and open-loop at a fixed rate for latency, before the
rounds and after them. The ratio ingest / bare, taken per round and reported as the median,
is the figure that carries across machines. Bounded: a fixed number of requests per phase and
a timeout on every process.

A closed loop measures a server's capacity only once the requests in flight saturate it. The
bare handler is bound by CPU at any level; ingest groups the requests waiting on one claim
into a batch, so with few in flight its rate is bound by the length of a claim cycle instead.
Each round therefore runs every in-flight level (`--concurrency 64,256`) against both servers,
and a server's capacity in a round is its best level; the capacity ratio is taken per round.
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


def sustained(server: Server, args: argparse.Namespace, in_flight: int) -> dict[str, Any]:
    """One closed-loop phase with fresh event ids. Besides the rate: CPU time per request of
    each process named (over the whole phase) and of the load generator (while it sends);
    these depend less on what else the machine is doing than the rates do."""
    before = {name: cpu_seconds(pid) for name, pid in server.pids.items()}
    batches_before = scrape(server.metrics_url) if server.metrics_url else None
    tag = uuid.uuid4().hex[:6]
    result = load(server.url, f"s{tag}", args.count, 0, in_flight)
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
    return load(server.url, f"r{tag}", count, args.rate, max(args.concurrency))


def compare(servers: list[Server], args: argparse.Namespace) -> dict[str, Any]:
    """Warm both up; the fixed-rate phase of each; rounds of one sustained phase per server
    and in-flight level, the order alternating, so that the figures of a round are taken
    seconds apart and their ratios hold even while other work on the machine comes and goes;
    then the fixed-rate phase again, on a broker and a database that now hold every event of
    the rounds and may still be cleaning up after them (autovacuum)."""
    for server in servers:
        load(server.url, f"w{uuid.uuid4().hex[:6]}", args.warmup, 0, max(args.concurrency))
    fresh = {server.name: at_rate(server, args) for server in servers}
    rounds = []
    for number in range(args.rounds):
        order = servers if number % 2 == 0 else servers[::-1]
        rounds.append(
            {
                level: {server.name: sustained(server, args, level) for server in order}
                for level in args.concurrency
            }
        )
    after = {server.name: at_rate(server, args) for server in servers}
    return {"rounds": rounds, "at_rate": fresh, "at_rate_after": after}


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
        for phases in one.values():
            phases["ratio"] = _ratio(phases["ingest"]["per_s"], phases["bare"]["per_s"])
    results["capacity"] = [capacity(one) for one in results["rounds"]]
    return results


def _ratio(ingest: float, bare: float) -> float:
    return round(ingest / bare, 3) if bare else 0.0


def capacity(one_round: dict[int, dict[str, Any]]) -> dict[str, float]:
    """Each server's best rate over the in-flight levels of one round, and their ratio."""
    best = {
        name: max(phases[name]["per_s"] for phases in one_round.values())
        for name in ("bare", "ingest")
    }
    return {**best, "ratio": _ratio(best["ingest"], best["bare"])}


def _median(values: list[Any]) -> Any:
    numbers = [value for value in values if isinstance(value, int | float)]
    return round(statistics.median(numbers), 3) if numbers else "-"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    rounds = results["rounds"]
    lines = [f"sustained: {args.rounds} rounds of {args.count} requests closed-loop per phase"]
    header = (
        f"{'round':>6} {'bare/s':>9} {'ingest/s':>9} {'ratio':>6} {'CPU µs/req bare':>16}"
        f" {'ingest':>7} {'broker':>7} {'PostgreSQL':>11} {'claim batch':>12}"
    )
    fields = [
        ("bare", "per_s"),
        ("ingest", "per_s"),
        ("", "ratio"),
        ("bare", "server_cpu_us"),
        ("ingest", "server_cpu_us"),
        ("ingest", "broker_cpu_us"),
        ("ingest", "postgres_cpu_us"),
        ("ingest", "mean_batch"),
    ]
    widths = [9, 9, 6, 16, 7, 7, 11, 12]

    def row(label: str, values: list[Any]) -> str:
        return f"{label:>6} " + " ".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))

    def pick(phases: dict[str, Any], server: str, field: str) -> Any:
        return (phases[server] if server else phases).get(field, "-")

    for level in args.concurrency:
        lines += [f"{level} in flight", header]
        for number, one in enumerate(rounds, 1):
            lines.append(row(str(number), [pick(one[level], s, f) for s, f in fields]))
        medians = [_median([pick(one[level], s, f) for one in rounds]) for s, f in fields]
        lines.append(row("median", medians))
        loadgen = [
            _median([one[level][name].get("loadgen_cpu_us") for one in rounds])
            for name in ("bare", "ingest")
        ]
        lines.append(
            f"load generator CPU µs/req (median): {loadgen[0]} against bare,"
            f" {loadgen[1]} against ingest"
        )
    best = results["capacity"]
    lines.append("capacity, each server's best level per round:")
    lines.append(row("round", ["bare/s", "ingest/s", "ratio"] + [""] * 5))
    for number, one in enumerate(best, 1):
        lines.append(row(str(number), [one["bare"], one["ingest"], one["ratio"]] + [""] * 5))
    medians = [_median([one[name] for one in best]) for name in ("bare", "ingest", "ratio")]
    lines.append(row("median", medians + [""] * 5))
    for key, when in (("at_rate", "after the warm-up"), ("at_rate_after", "after the rounds")):
        lines.append(f"at {int(args.rate)}/s for {args.rate_seconds:g} s, {when}:")
        for name, phase in results[key].items():
            lines.append(
                f"  {name:7} p50 {phase['p50_ms']} ms, p99 {phase['p99_ms']} ms,"
                f" errors {phase['errors']}"
            )
    errors = sum(
        phases[name]["errors"]
        for one in rounds
        for phases in one.values()
        for name in ("bare", "ingest")
    )
    lines.append(f"errors while sustained: {errors}")
    lines.append(f"events published by ingest: {int(results['published'])}")
    return "\n".join(lines)


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("one or more positive integers, comma-separated")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="requests per sustained phase")
    parser.add_argument("--rounds", type=int, default=5, help="sustained phases per server")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, per s")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument(
        "--concurrency",
        type=_levels,
        default=[64, 256],
        help="requests in flight in the closed loop, one or more levels (64,256)",
    )
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
