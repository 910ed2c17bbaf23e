"""A Faust app whose consumer asks the broker to answer fetches sooner.

Faust hard-codes `fetch_max_wait_ms=1500` for aiokafka. A broker that holds a fetch until that
deadline even when data has arrived (Tansu does) then adds up to 1.5 s to every hop from a
webhook to the timeline. With 100 ms the hop costs at most that, at the price of a few more
fetch requests while idle.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.transports import TransportT

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when the consumer starts, which is after Faust creates it.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """`faust.App` with the quicker fetch; everything else is Faust's own."""

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)
