"""Ingest benchmark: `python -m bench.ingest_bench` (or `make bench`).

Starts a Tansu broker and PostgreSQL of its own (in a temporary folder, free loopback ports),
ingest as a process (`python -m services.ingest serve`) and a bare aiohttp handler as a process
(reads the body, answers 200). The load generator (`bench/loadgen.py`, a third process) drives
both with the same signed webhooks: closed-loop for the sustained rate, then open-loop at a
fixed rate for latency. The ratio ingest / bare is the figure that carries across machines.
Bounded: a fixed number of requests per phase and a timeout on every process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devtools.infra.components import Kafka, Postgres
from devtools.infra.process import free_port
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


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its reaped children (Linux; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


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


def measure(url: str, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    """Warm-up, sustained (closed loop), then fixed rate; fresh event ids in every phase.
    The server's CPU time per request in the sustained phase depends little on what else
    the machine is doing, unlike the rates."""
    tag = uuid.uuid4().hex[:6]
    load(url, f"w{tag}", args.warmup, 0, args.concurrency)
    cpu_before = cpu_seconds(pid)
    sustained = load(url, f"s{tag}", args.count, 0, args.concurrency)
    cpu_after = cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None:
        sustained["server_cpu_us"] = round((cpu_after - cpu_before) / args.count * 1e6)
    rate_count = int(args.rate * args.rate_seconds)
    at_rate = load(url, f"r{tag}", rate_count, args.rate, args.concurrency)
    return {"sustained": sustained, "at_rate": at_rate}


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
    batches = totals.get("ingest_publish_batch_size_count", 0.0)
    return {
        "published": totals.get("ingest_events_published_total", 0.0),
        "mean_batch": round(totals.get("ingest_publish_batch_size_sum", 0.0) / batches, 1)
        if batches
        else 0.0,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ibench"))
    kafka, postgres = Kafka(work, free_port()), Postgres(work, free_port())
    results: dict[str, Any] = {}
    try:
        kafka.up(60)
        postgres.up(60)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        ensure_topics(kafka.url(), TopicNames(prefix).all_names())
        bare_port, ingest_port = free_port(), free_port()
        bare_argv = [sys.executable, "-m", "bench.ingest_bench", "--serve-bare", str(bare_port)]
        bare_argv += ["--bare-uvloop"] if args.bare_uvloop else []
        base = f"http://127.0.0.1:{bare_port}"
        with process(bare_argv, dict(os.environ), f"{base}/healthz", work / "bare.log") as proc:
            results["bare"] = measure(f"{base}/webhooks/stripe", args, proc.pid)
        env = ingest_env(kafka.url(), postgres.url(), ingest_port, prefix)
        argv = [sys.executable, "-m", "services.ingest", "serve"]
        if args.profile:
            argv[1:1] = ["-m", "cProfile", "-o", args.profile]
        base = f"http://127.0.0.1:{ingest_port}"
        with process(argv, env, f"{base}/readyz", work / "ingest.log") as proc:
            results["ingest"] = measure(f"{base}/webhooks/stripe", args, proc.pid)
            results["ingest"].update(scrape(f"{base}/metrics"))
    finally:
        postgres.down()
        kafka.down()
        for data in (postgres.data_dir, kafka.data_dir):  # ~170 MB a run; the logs stay
            shutil.rmtree(data, ignore_errors=True)
    bare, ingest = results["bare"]["sustained"]["per_s"], results["ingest"]["sustained"]["per_s"]
    results["ratio"] = round(ingest / bare, 3) if bare else None
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    at_rate = f"at {int(args.rate)}/s: p50"
    columns = f"{'sustained/s':>12} {'CPU µs/req':>11} {at_rate:>16} {'p99':>8} {'errors':>7}"
    lines = [f"{'':8} {columns}"]
    for name in ("bare", "ingest"):
        s, r = results[name]["sustained"], results[name]["at_rate"]
        errors = s["errors"] + r["errors"]
        cpu = s.get("server_cpu_us", "-")
        lines.append(
            f"{name:8} {s['per_s']:>12} {cpu:>11} {r['p50_ms']:>13} ms {r['p99_ms']:>5} ms"
            f" {errors:>7}"
        )
    lines.append(f"ingest / bare throughput ratio: {results['ratio']}")
    lines.append(
        f"events published by ingest: {int(results['ingest']['published'])}"
        f" (mean claim batch: {results['ingest']['mean_batch']} events)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="requests, sustained phase")
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
