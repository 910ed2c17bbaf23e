"""The load generator, run as its own process so that it never shares a CPU budget with the
server it measures: pre-signed Stripe webhooks over loopback, either closed-loop (how many per
second at most) or open-loop at a fixed rate (latency measured from the scheduled send time,
so a slow server cannot hide its queueing)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import resource
import statistics
import sys
import time
from typing import Any

import aiohttp

Request = tuple[bytes, str]


def make_requests(count: int, secret: str, run: str) -> list[Request]:
    """Distinct `payment_intent.succeeded` events (~1.5 KB), each with its own order id."""
    stamp = int(time.time())
    made = []
    for i in range(count):
        intent = {
            "id": f"pi_{run}{i:08d}",
            "object": "payment_intent",
            "amount": 2500 + i % 100,
            "currency": "usd",
            "status": "succeeded",
            "latest_charge": f"ch_{run}{i:08d}",
            "metadata": {"order_id": f"ord_{run}_{i}"},
            "payment_method_types": ["card"],
            "description": "bench " + "x" * 900,
        }
        event = {
            "id": f"evt_{run}{i:08d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": stamp,
            "livemode": False,
            "pending_webhooks": 1,
            "type": "payment_intent.succeeded",
            "data": {"object": intent},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        made.append((body, f"t={stamp},v1={digest.hexdigest()}"))
    return made


async def _post(session: aiohttp.ClientSession, url: str, request: Request) -> int:
    body, signature = request
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError:
        return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(
    latencies: list[float], statuses: list[int], elapsed: float, cpu: float
) -> dict[str, Any]:
    """`cpu`: this process's CPU seconds while sending (start-up and signing left out)."""
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(int(p * len(ordered)), len(ordered) - 1)] * 1000, 2)

    return {
        "requests": len(statuses),
        "ok": sum(1 for s in statuses if 200 <= s < 300),
        "errors": sum(1 for s in statuses if not 200 <= s < 300),
        "elapsed_s": round(elapsed, 2),
        "per_s": round(len(statuses) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(0.50) if ordered else None,
        "p99_ms": pct(0.99) if ordered else None,
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2) if ordered else None,
        "cpu_us": round(cpu / len(statuses) * 1e6) if statuses else None,
    }


async def closed_loop(url: str, requests: list[Request], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: list[int] = []
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for request in queue:
                started = time.perf_counter()
                statuses.append(await _post(session, url, request))
                latencies.append(time.perf_counter() - started)

        began, cpu = time.perf_counter(), _cpu()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return summary(latencies, statuses, time.perf_counter() - began, _cpu() - cpu)


async def fixed_rate(url: str, requests: list[Request], rate: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(request: Request, due: float) -> None:
            statuses.append(await _post(session, url, request))
            latencies.append(time.perf_counter() - due)

        began, cpu = time.perf_counter(), _cpu()
        tasks = []
        for i, request in enumerate(requests):
            due = began + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request, due)))
        await asyncio.gather(*tasks)
        return summary(latencies, statuses, time.perf_counter() - began, _cpu() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--run", required=True, help="unique per run: event ids never repeat")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="fixed rate; 0 = closed loop")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    if not args.url.startswith("http://127.0.0.1:"):
        parser.error("loopback only: --url must start with http://127.0.0.1:")
    requests = make_requests(args.count, args.secret, args.run)
    if args.rate > 0:
        result = asyncio.run(fixed_rate(args.url, requests, args.rate))
    else:
        result = asyncio.run(closed_loop(args.url, requests, args.concurrency))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
