"""What the writer needs to count attempts at a message; pure.

A message the broker delivers again has been delivered before and not acked:
its worker stopped (killed, crashed, lost its connection) or failed in it.
Most such messages are innocent (the worker died of something else) and go
through at once; one that kills every worker it reaches must not do so
forever (issue 10, item 8).  Attempts are counted in the database
(`ingest_attempts`, by `message_key`), not with the broker's own count
(RabbitMQ's quorum queues give `x-delivery-count`; MQTT gives only a DUP
flag): a delivery count also grows when a connection drops with the message
in flight, so an innocent message would be condemned by a flaky network,
and the MQTT option has no count at all."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.pipeline import Received


def message_key(m: Received) -> bytes:
    """A message, whoever delivers it: its topic and payload (a device that
    sends the very same message again shares its count)."""
    return hashlib.sha256(m.topic.encode("utf-8", "surrogatepass") + b"\0" + m.payload).digest()


def describe(exc: BaseException) -> str:
    """An exception on one line, for a log and a reason."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
