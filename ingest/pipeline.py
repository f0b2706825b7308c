"""From received broker messages (MQTT, or AMQP from RabbitMQ's quorum
queues) to a batch to store, the refusals to publish and the counts to log;
pure (no network, no database, no clock)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ingest import decode
from ingest.rows import Batch, ObservationRow, RejectionRow, StatusRow
from ingest.status import Status, decode_status
from ward import topics

TOPIC_PREFIX = topics.DEVICES_PREFIX
WARDS_PREFIX = topics.WARDS_PREFIX
# Topics the ward publishes to devices and subscribers (docs/ingest.md, the
# device contract); a device may not publish on them.
OUTBOUND_DEVICE_KINDS = topics.OUTBOUND_DEVICE_KINDS
# What a device is told stays small, whatever it sent: a rejection is a few
# kB at most, naming decode.REASONS_NAMED refusals, each reason cut to a line.
FEEDBACK_MAX_BYTES = 4096
_DEFAULT_LIMITS = decode.Limits()


@dataclass(frozen=True, slots=True)
class Received:
    """One broker message as it arrived, before any judgement.  `mid` is the
    MQTT packet id or the AMQP delivery tag, `generation` the connection (or
    channel) it came on: an ack goes back only on that one."""

    topic: str
    payload: bytes
    received_at: datetime
    mid: int = 0
    qos: int = 1
    generation: int = 0
    retained: bool = False
    # Decoded on arrival, in the MQTT thread, so decoding overlaps the
    # writer's database time; None for status and other topics.
    decoded: decode.Decoded | None = None
    # Routed by no binding of ours (RabbitMQ's alternate exchange caught it):
    # recorded as a rejection, never decoded.
    unrouted: bool = False
    # Delivered before and not acked (its worker stopped, or it failed): the
    # writer processes it on its own, counting the attempt (service.py).
    redelivered: bool = False
    # Why it could not even be turned into our type (a bug): kept as an
    # internal error, acked.
    failure: str | None = None
    # A status message, decoded on arrival like readings (None otherwise).
    status: Status | decode.Refusal | None = None


def receive(
    topic: str,
    payload: bytes,
    received_at: datetime,
    *,
    mid: int = 0,
    qos: int = 1,
    generation: int = 0,
    retained: bool = False,
    unrouted: bool = False,
    redelivered: bool = False,
    limits: decode.Limits = _DEFAULT_LIMITS,
) -> Received:
    """Turn a broker message into our type, decoding a readings message."""
    decoded = status = None
    device_id, kind = device_and_kind(topic)
    if device_id and not unrouted:
        if kind == topics.READINGS:
            decoded = decode.decode_message(payload, device_id, now=received_at, limits=limits)
        elif kind == topics.STATUS:
            status = decode_status(payload, limits)
    return Received(
        topic,
        payload,
        received_at,
        mid,
        qos,
        generation,
        retained,
        decoded,
        unrouted,
        redelivered,
        None,
        status,
    )


def unreadable(
    topic: str,
    payload: bytes,
    received_at: datetime,
    exc: BaseException,
    *,
    mid: int = 0,
    qos: int = 1,
    generation: int = 0,
) -> Received:
    """A message that `receive` failed on (a bug): handed to the writer all
    the same, to be kept as an internal error and acked, never left unacked
    to come back and fail again."""
    failure = f"{type(exc).__name__}: {str(exc)[:300]}"
    return Received(topic, payload, received_at, mid, qos, generation, failure=failure)


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a device is told on its rejections topic."""

    topic: str
    payload: bytes


def device_and_kind(topic: str) -> tuple[str | None, str | None]:
    """`ward/v1/devices/{id}/{kind}` → (id, kind)."""
    if not topic.startswith(TOPIC_PREFIX):
        return None, None
    parts = topic[len(TOPIC_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[0]:
        return None, None
    return parts[0], parts[1]


def is_outbound(topic: str) -> bool:
    """A topic the ward publishes on (a device's rejections or commands, a
    ward's alerts): one of these left unrouted had no subscriber, as a plain
    MQTT broker drops it; it is not a device's message gone astray."""
    if topic.startswith(WARDS_PREFIX):
        return True
    _, kind = device_and_kind(topic)
    return kind in OUTBOUND_DEVICE_KINDS


def unrouted_row(m: Received) -> RejectionRow:
    """A message no binding caught, kept whole: acknowledged by the broker to
    its sender, so it must not vanish."""
    device_id, _ = device_and_kind(m.topic)
    return RejectionRow(
        m.received_at,
        m.topic,
        device_id,
        None,
        decode.UNROUTED,
        f"the broker routed topic {m.topic[:200]!r} to no queue of the ward (readings and"
        f" status go to {topics.readings_topic('{id}')} and .../{topics.STATUS})",
        True,
        m.payload,
    )


@dataclass(frozen=True, slots=True)
class _Pending:
    """A readings message whose readings are in the batch, awaiting the
    database's word on which of them had no patient."""

    message: Received
    device_id: str
    decoded: decode.Decoded
    refs: tuple[int, ...]  # batch refs of decoded.readings, in order


@dataclass(slots=True)
class Prepared:
    observations: list[ObservationRow]
    statuses: list[StatusRow]
    last_seen: dict[str, datetime]
    pending: list[_Pending]
    received_counts: Counter = field(default_factory=Counter)
    feedback: list[Feedback] = field(default_factory=list)
    unrouted: list[RejectionRow] = field(default_factory=list)
    # Refused before the database is asked (status messages), with what
    # their devices are told.
    refused_feedback: list[Feedback] = field(default_factory=list)
    # Refusals found with the database's answer; recomputed, not added to,
    # when a batch is retried.
    refusal_counts: Counter = field(default_factory=Counter)

    @property
    def counts(self) -> Counter:
        """Messages, readings and refusals by reason, for the service's log."""
        return self.received_counts + self.refusal_counts

    def batch(self) -> Batch:
        return Batch(
            self.observations, self.statuses, self.last_seen, self.rejections, self.message_ids
        )

    def message_ids(self) -> list[str | None]:
        """The id of each reading's message, by ref; built only when asked
        (a batch that meets a reading stored before), not on every batch."""
        ids: list[str | None] = [None] * len(self.observations)
        for p in self.pending:
            for ref in p.refs:
                ids[ref] = p.decoded.message_id
        return ids

    def rejections(self, unassigned: frozenset[int]) -> list[RejectionRow]:
        """Rows for rejected_messages (and the devices' feedback), once the
        database has said which readings no assignment covers."""
        rows: list[RejectionRow] = list(self.unrouted)
        self.feedback = list(self.refused_feedback)
        self.refusal_counts = Counter()
        for p in self.pending:
            refusals = list(p.decoded.refusals)
            for i, ref, r in zip(p.decoded.positions, p.refs, p.decoded.readings, strict=True):
                if ref in unassigned:
                    refusals.append(
                        decode.Refusal(
                            decode.UNASSIGNED,
                            f"reading {i}: {r.type} at {r.time.isoformat()}: device {p.device_id}"
                            " was not assigned to a patient at that time",
                            i,
                        )
                    )
            refusals.sort(key=lambda r: -1 if r.index is None else r.index)
            if not refusals:
                continue
            kept = len(p.refs) - sum(ref in unassigned for ref in p.refs)
            code, reason = decode.describe(refusals)
            m = p.message
            rows.append(
                RejectionRow(
                    m.received_at,
                    m.topic,
                    p.device_id,
                    p.decoded.message_id,
                    code,
                    reason,
                    kept == 0,
                    m.payload,
                )
            )
            self.feedback.append(
                rejection_feedback(p.device_id, p.decoded.message_id, refusals, kept)
            )
            for r in refusals:
                self.refusal_counts[f"rejected:{r.code}"] += 1
        return rows


INTERNAL_ERROR = "internal_error"


def internal_error_row(m: Received, exc: BaseException | str) -> RejectionRow:
    """A message that made the service fail: kept whole, so it does not loop."""
    device_id, _ = device_and_kind(m.topic)
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc)[:300]}"
    return RejectionRow(
        m.received_at,
        m.topic,
        device_id,
        None,
        INTERNAL_ERROR,
        f"the ward could not process this message ({why}); it is kept for the developers",
        True,
        m.payload,
    )


def dead_letter_row(m: Received, failures: int, last_error: str | None) -> RejectionRow:
    """A message that failed, or stopped its worker, `failures` times: kept
    whole as an internal error, unprocessed, so that it stalls nobody."""
    last = f"the last failure: {last_error}" if last_error else (
        "its worker stopped (or was stopped) in it")
    return internal_error_row(
        m, f"it failed {failures} times ({last}); not tried again"
    )


def _refused_status(m: Received, device_id: str, refusal: decode.Refusal) -> tuple[
    RejectionRow, Feedback
]:
    row = RejectionRow(
        m.received_at, m.topic, device_id, None, refusal.code,
        decode.cut_reason(refusal.reason), True, m.payload,
    )
    return row, rejection_feedback(device_id, None, [refusal], 0)


def prepare_batch(messages: list[Received]) -> Prepared:
    """Collect what to store from decoded messages; the patient of each
    reading is decided in the database, in the same snapshot as the insert."""
    prepared = Prepared([], [], {}, [])
    counts = prepared.received_counts
    for m in messages:
        d = m.decoded
        counts["messages"] += 1
        device_id, kind = device_and_kind(m.topic)
        if m.unrouted:
            if is_outbound(m.topic):
                counts["unrouted_outbound"] += 1  # no subscriber: nothing to keep
            else:
                prepared.unrouted.append(unrouted_row(m))
                counts[f"rejected:{decode.UNROUTED}"] += 1
            continue
        if m.failure is not None:
            prepared.unrouted.append(internal_error_row(m, m.failure))
            counts[f"rejected:{INTERNAL_ERROR}"] += 1
            continue
        if kind == topics.STATUS and device_id:
            status = m.status or decode_status(m.payload, _DEFAULT_LIMITS)
            if type(status) is decode.Refusal:
                row, feedback = _refused_status(m, device_id, status)
                prepared.unrouted.append(row)
                prepared.refused_feedback.append(feedback)
                counts[f"rejected:{status.code}"] += 1
                continue
            prepared.statuses.append(
                StatusRow(m.received_at, device_id, status.online, status.battery,
                          status.firmware, status.signal, status.raw)
            )
        elif d is None or device_id is None:
            counts["ignored_topic"] += 1
            continue
        else:
            refs = []
            for r in d.readings:
                ref = len(prepared.observations)
                prepared.observations.append(
                    ObservationRow(ref, r.time, device_id, str(r.type), r.value, m.received_at)
                )
                refs.append(ref)
            prepared.pending.append(_Pending(m, device_id, d, tuple(refs)))
            counts["readings"] += len(d.readings) + sum(r.index is not None for r in d.refusals)
        if m.retained:
            # The broker's stored copy, resent on (re)subscription: old news,
            # not a sign that the device is alive now.
            continue
        seen = prepared.last_seen.get(device_id, m.received_at)
        prepared.last_seen[device_id] = max(seen, m.received_at)
    return prepared


def rejection_feedback(
    device_id: str, message_id: str | None, refusals: list[decode.Refusal], stored: int
) -> Feedback:
    """The device's rejection, at most FEEDBACK_MAX_BYTES: the first
    decode.REASONS_NAMED refusals, each reason cut to a line, and the
    refusals past the cap counted in `more` (rejected_messages keeps the
    payload)."""
    body: dict = {"id": message_id, "accepted": stored, "refused": []}
    size = len(json.dumps(body)) + len(', "more": 0000000')
    for n, r in enumerate(refusals):
        item = {"index": r.index, "code": r.code, "reason": decode.cut_reason(r.reason)}
        size += len(json.dumps(item)) + 2
        if size > FEEDBACK_MAX_BYTES or n >= decode.REASONS_NAMED:
            body["more"] = len(refusals) - n
            break
        body["refused"].append(item)
    return Feedback(topics.rejections_topic(device_id), json.dumps(body).encode())
