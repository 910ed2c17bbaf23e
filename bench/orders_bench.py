"""Orders benchmark: `python -m bench.orders_bench`.

Starts its own Tansu broker and PostgreSQL (temporary folder, free loopback ports), the Stripe
emulator, ingest, one orders worker and the orders API as processes, then measures:

1. Throughput of the orders agent (one worker). The worker is paused (SIGSTOP on its process
   group) while a burst is produced onto its input topic, then resumed; events/s is
   (n - 1) / (last - first) over the broker timestamps of the n facts the burst caused on
   `orders.events`, and the burst counts as done when every order's read-model row has the
   version it implies. One burst of `CreateOrder` commands creates the orders, one burst of
   `payment_intent.succeeded` pays them (a capture and its fee each), then `--runs` bursts of
   `charge.refunded` events (partial refunds of one minor unit, each a new change: one
   `RefundRecorded` fact and one read-model write). Repeated captures would not do: a second
   capture of one order is a second payment (a mismatch and a refund), and the same capture
   told again is no new fact.
2. Webhook-to-timeline latency at a fixed rate: a sender process posts one signed
   `payment_intent.succeeded` webhook per order to ingest, open loop at `--rate`/s for
   `--duration` s. Latency = the read-model row's `updated_at` (the write that makes the order
   paid with its timeline entry, as `GET /orders/{id}/timeline` serves it) minus the post's
   scheduled send time: ingest's verify, dedupe and publish, the broker, the worker, the write.
   It is split into stages by the broker timestamps of the record ingest published and of the
   fact the worker wrote after the read model (every process runs on this machine's one
   clock).

Bounded: fixed counts and a deadline on every wait; every process is stopped on the way out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import orders_support as support
from devtools.infra.components import Kafka, Postgres
from devtools.infra.process import free_port
from libs.common.kafka.admin import ensure_topics
from libs.common.topics import ORDERS_COMMANDS, ORDERS_EVENTS, STRIPE_EVENTS, Topic, TopicNames
from tests.support import processes

SECRET = "whsec_bench_only"
WAIT_S = 90.0  # for one burst or phase to be reflected; the whole run has `--max-seconds`
CAPTURED = 3  # facts of a paid order: OrderCreated, PaymentCaptured, ProcessingFeeRecorded


class Bench:
    def __init__(self, kafka: str, database: str, emulator: str, logs: Path, end: float) -> None:
        self.kafka, self.database, self.logs, self.end = kafka, database, logs, end
        self.tags: dict[str, str] = {}  # order id -> the tag of its charge's ids
        prefix = f"obench{uuid.uuid4().hex[:6]}."
        self.names = TopicNames(prefix)
        self.env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": database,
            "TOPIC_PREFIX": prefix,
            "STRIPE_API_BASE": emulator,
            "STRIPE_SECRET_KEY": "sk_test_emulator",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "STRIPE_CONNECT_WEBHOOK_SECRET": SECRET,
            "INGEST_PORT": str(free_port()),
            "ORDERS_PORT": str(free_port()),
            "ORDERS_WORKER_PORT": str(free_port()),
            "ORDERS_WORKER_ID": f"orders-{uuid.uuid4().hex[:6]}",
            "BACKFILL_ON_START": "false",
            "BACKFILL_INTERVAL_S": "0",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
        }
        self.worker: processes.Running | None = None

    def start(self, name: str, argv: list[str], port: str) -> processes.Running:
        health = f"http://127.0.0.1:{self.env[port]}/healthz"
        return processes.start(name, argv, env=self.env, log_dir=self.logs, health_url=health)

    def wait_assigned(self) -> None:
        """The worker answers health before it owns partitions; a pause must come after."""
        url = f"http://127.0.0.1:{self.env['ORDERS_WORKER_PORT']}/healthz"
        wanted = self.names.name(STRIPE_EVENTS)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if any(a.startswith(wanted + ":") for a in json.load(resp)["assigned"]):
                    return
            time.sleep(0.2)
        raise RuntimeError("the orders worker never got its partitions")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        assert self.worker is not None
        os.killpg(self.worker.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.worker.process.pid, signal.SIGCONT)

    def wait_rows(self, orders: list[str], version: int) -> list[tuple[str, float]]:
        deadline = min(time.monotonic() + WAIT_S, self.end)
        while len(found := support.rows(self.database, orders, version)) < len(orders):
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        return found

    def burst(
        self, topic: Topic, records: list[tuple[str, bytes]], fact: str, causes: set[str]
    ) -> dict[str, Any]:
        """Produce `records` while the worker is paused, resume it, time the `fact`s it writes
        (those caused by the `causes`: the records' command or event ids)."""
        facts = self.names.name(ORDERS_EVENTS)
        since = support.end_offsets(self.kafka, facts, ORDERS_EVENTS.partitions)
        paused_at = time.monotonic()
        with self.paused():
            support.produce_all(self.kafka, self.names.name(topic), records)
            pause_s = time.monotonic() - paused_at
        return {
            "since": since,
            "pause_s": round(pause_s, 2),
            "fact": fact,
            "n": len(records),
            "causes": causes,
        }

    def settle(self, burst: dict[str, Any], orders: list[str], version: int) -> dict[str, Any]:
        done = self.wait_rows(orders, version)
        topic = self.names.name(ORDERS_EVENTS)
        wanted = support.caused_by(burst["causes"])
        found = support.stamps(self.kafka, topic, burst["since"], burst["fact"], wanted, burst["n"])
        times = [t for _, t in found]
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "records": burst["n"],
            "facts": len(times),
            "orders_done": f"{len(done)}/{len(orders)}",
            "seconds": round(span, 2),
            "per_s": round((len(times) - 1) / span, 1) if span else None,
            "pause_s": burst["pause_s"],
        }

    def create_orders(self, orders: list[str]) -> dict[str, Any]:
        commands = {o: f"cmd_{uuid.uuid4().hex[:12]}" for o in orders}
        records = [(o, support.create_order(o, commands[o])) for o in orders]
        burst = self.burst(ORDERS_COMMANDS, records, "OrderCreated", set(commands.values()))
        return self.settle(burst, orders, 1)

    def capture_burst(self, orders: list[str]) -> dict[str, Any]:
        """One `payment_intent.succeeded` per order (its charge's fee expanded, as the bench
        sends it): a capture and a fee, two facts and one read-model write per order."""
        records, events = [], set()
        for order in orders:
            event = support.stripe_event("payment_intent.succeeded", order, self.tags[order])
            records.append((order, support.as_received(event, order)))
            events.add(event["id"])
        burst = self.burst(STRIPE_EVENTS, records, "PaymentCaptured", events)
        return self.settle(burst, orders, CAPTURED)

    def stripe_burst(self, orders: list[str], per_order: int, run: int) -> dict[str, Any]:
        """`per_order` partial refunds of each order's charge, each a change of its own."""
        records, events = [], set()
        for k in range(per_order):
            number = run * per_order + k + 1
            for order in orders:
                event = support.refund_event(order, self.tags[order], number, number)
                records.append((order, support.as_received(event, order)))
                events.add(event["id"])
        burst = self.burst(STRIPE_EVENTS, records, "RefundRecorded", events)
        return self.settle(burst, orders, CAPTURED + per_order * (run + 1))

    def marks(self) -> dict[str, dict[int, int]]:
        return {
            t.name: support.end_offsets(self.kafka, self.names.name(t), t.partitions)
            for t in (STRIPE_EVENTS, ORDERS_EVENTS)
        }

    def latency(self, orders: list[str], rate: float) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.env['INGEST_PORT']}/webhooks/stripe"
        argv = [sys.executable, "-m", "bench.orders_support", "--url", url]
        argv += ["--secret", SECRET, "--rate", str(rate)]
        since = self.marks()
        sent = subprocess.run(
            argv, input=json.dumps(orders).encode(), capture_output=True, check=True,
            timeout=len(orders) / rate + WAIT_S,
        )  # fmt: skip
        result = json.loads(sent.stdout)
        due: dict[str, float] = result["due"]
        done = dict(self.wait_rows(orders, CAPTURED))
        published = self.first_stamps(STRIPE_EVENTS, since, "StripeEventReceived", orders)
        facts = self.first_stamps(ORDERS_EVENTS, since, "PaymentCaptured", orders)
        stages = {
            "total": (due, done),
            "ingest": (due, published),
            "worker": (published, done),
            "facts": (done, facts),
        }
        return {
            "sent": len(orders),
            "sent_per_s": result["sent_per_s"],
            "http_errors": result["errors"],
            "reflected": len(done),
            **{name: support.spread(a, b) for name, (a, b) in stages.items()},
            "timeline_ok": self.timeline_has_capture(orders[len(orders) // 2]),
        }

    def first_stamps(
        self, topic: Topic, since: dict[str, dict[int, int]], kind: str, orders: list[str]
    ) -> support.Times:
        found: support.Times = {}
        wanted = support.keyed_by(set(orders))
        name, marks = self.names.name(topic), since[topic.name]
        for key, at in support.stamps(self.kafka, name, marks, kind, wanted, len(orders)):
            found.setdefault(key, at)
        return found

    def timeline_has_capture(self, order_id: str) -> bool:
        url = f"http://127.0.0.1:{self.env['ORDERS_PORT']}/orders/{order_id}/timeline"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return any(e["kind"] == "PaymentCaptured" for e in json.load(resp)["timeline"])


def measure(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    per_order = max(1, -(-args.events // args.orders))
    tp_orders = [f"ord_t{uuid.uuid4().hex[:10]}" for _ in range(args.orders)]
    lat_orders = [f"ord_l{uuid.uuid4().hex[:10]}" for _ in range(int(args.rate * args.duration))]
    bench.wait_assigned()
    results: dict[str, Any] = {"load_average": os.getloadavg()}
    results["create"] = bench.create_orders(tp_orders + lat_orders)
    bench.tags = {o: f"{uuid.uuid4().hex[:6]}c{i:06d}" for i, o in enumerate(tp_orders)}
    results["capture"] = bench.capture_burst(tp_orders)
    results["events"] = []
    for run in range(args.runs):
        if time.monotonic() < bench.end:
            results["events"].append(bench.stripe_burst(tp_orders, per_order, run))
    rates = [r["per_s"] for r in results["events"] if r["per_s"]]
    results["events_per_s_median"] = statistics.median(rates) if rates else None
    results["latency"] = bench.latency(lat_orders, args.rate)
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    end = time.monotonic() + args.max_seconds
    work = Path(tempfile.mkdtemp(prefix="obench"))
    logs = work / "logs"
    logs.mkdir()
    kafka, postgres = Kafka(work, free_port()), Postgres(work, free_port())
    started: list[processes.Running] = []
    try:
        kafka.up(60)
        postgres.up(60)
        port = free_port()
        emulator = f"http://127.0.0.1:{port}"
        argv = ["devtools.stripe_emulator", "--host", "127.0.0.1", "--port", str(port)]
        health = f"{emulator}/_emulator/health"
        started.append(processes.start("emulator", argv, env={}, log_dir=logs, health_url=health))
        bench = Bench(kafka.url(), postgres.url(), emulator, logs, end)
        ensure_topics(kafka.url(), bench.names.all_names())
        bench.worker = bench.start("worker", ["services.orders", "worker"], "ORDERS_WORKER_PORT")
        started.append(bench.worker)
        started.append(bench.start("ingest", ["services.ingest", "serve"], "INGEST_PORT"))
        started.append(bench.start("api", ["services.orders", "api"], "ORDERS_PORT"))
        results = measure(bench, args)
        results["logs"] = str(logs)
        return results
    finally:
        for running in reversed(started):
            running.stop()
        postgres.down()
        kafka.down()
        for data in (postgres.data_dir, kafka.data_dir):  # ~100 MB a run; the logs stay
            shutil.rmtree(data, ignore_errors=True)


STAGES = {
    "total": "post -> read model",
    "ingest": "  post -> stripe.events",
    "worker": "  -> read model",
    "facts": "  then -> orders.events",
}
"""The worker writes the read model first and then publishes the facts (a batch PostgreSQL
refuses has published nothing), so the last stage comes after the total."""


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.2f}" for x in results["load_average"])
    lines = [f"load average before the run: {load} (on {os.cpu_count()} CPUs)"]
    lines.append("orders agent, one worker (facts/s from broker timestamps of the facts written)")
    create = results["create"]
    lines.append(f"  CreateOrder      {create['per_s']!s:>8} /s  ({create['records']} commands, "
                 f"{create['orders_done']} in read model)")  # fmt: skip
    capture = results["capture"]
    lines.append(f"  Stripe captures  {capture['per_s']!s:>8} /s  ({capture['records']} events, "
                 f"{capture['facts']} captures, {capture['orders_done']} orders done)")  # fmt: skip
    for i, burst in enumerate(results["events"], 1):
        lines.append(f"  Stripe run {i}     {burst['per_s']!s:>8} /s  ({burst['records']} events, "
                     f"{burst['facts']} facts, {burst['orders_done']} orders done)")  # fmt: skip
    lines.append(f"  Stripe median    {results['events_per_s_median']!s:>8} /s  (target >= 1000)")
    lat = results["latency"]
    lines.append(f"webhook -> read model at {args.rate:g}/s for {args.duration:g} s "
                 f"(sent {lat['sent_per_s']}/s, {lat['http_errors']} HTTP errors, "
                 f"{lat['reflected']}/{lat['sent']} reflected; target p99 <= 500 ms)")  # fmt: skip
    lines.append(f"  {'ms':24} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for name, label in STAGES.items():
        row = lat[name]
        lines.append(f"  {label:24} " + " ".join(f"{row[q]!s:>8}" for q in row))
    lines.append(f"  timeline served by the API shows the capture: {lat['timeline_ok']}")
    lines.append(f"logs: {results['logs']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orders_bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000, help="orders of the Stripe runs")
    parser.add_argument("--events", type=int, default=3_000, help="Stripe events per run")
    parser.add_argument("--runs", type=int, default=3, help="Stripe bursts; median reported")
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks/s, latency phase")
    parser.add_argument("--duration", type=float, default=10.0, help="s, latency phase")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="stop waiting after")
    parser.add_argument("--json", action="store_true", help="print the raw results too")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
