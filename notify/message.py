"""What a notification says, and the webhook's signature: pure.

Every message says who (the patient), what (the alert's kind and event), why
(the event's reason, as the engine wrote it), how severe, and carries two
links: the patient's page, and the acknowledge link of this person for this
alert (ward/ack_links.py).  The webhook's JSON carries the same facts as
fields, so a receiving system (a pager gateway, a team chat) need not parse
prose.

The webhook's signature (docs/notifications.md): HMAC-SHA256 under the ward's
webhook key over ``"{timestamp}." + body`` (the timestamp in whole Unix
seconds, sent in ``X-Vward-Timestamp``), hex, sent as ``X-Vward-Signature:
sha256=<hex>``.  The timestamp inside the signed bytes lets a receiver refuse a
replay older than a few minutes; ``Idempotency-Key`` lets it drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

SIGNATURE_HEADER = "X-Vward-Signature"
TIMESTAMP_HEADER = "X-Vward-Timestamp"
KEY_HEADER = "Idempotency-Key"
SIGNATURE_PREFIX = "sha256="

_SEVERITY_WORDS = {"emergency": "EMERGENCY", "urgent": "URGENT", "low": "Low", "info": "Info"}


@dataclass(frozen=True, slots=True)
class Facts:
    """One notification as the notifier read it: the event, its alert, the person."""

    notification_id: int
    key: str
    recipient: str
    tier: int | None
    channel: str
    event_id: int
    event: str
    event_time: datetime
    severity: str
    reason: str  # the event's reason (why it fired or escalated)
    alert_id: int
    kind: str
    category: str
    ward_id: str
    patient_id: str
    patient_name: str | None
    device_id: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Links:
    patient: str
    ack: str | None  # None where no link could be made (a technical alert to an admin)


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    body: str
    message_id: str


def who(f: Facts) -> str:
    name = f" ({f.patient_name})" if f.patient_name else ""
    return f"patient {f.patient_id}{name}, ward {f.ward_id}"


def subject(f: Facts) -> str:
    """Severity first: it is what a person on call reads on a locked phone."""
    what = "escalated" if f.event == "escalated" else "alert"
    return (f"[{_SEVERITY_WORDS.get(f.severity, f.severity)}] {f.kind} {what}:"
            f" patient {f.patient_id}, ward {f.ward_id}")


def email(f: Facts, links: Links, *, domain: str) -> Email:
    reached = (f"You are tier {f.tier} on call for ward {f.ward_id}." if f.tier
               else f"You are an admin of ward {f.ward_id}.")
    lines = [
        f"{_SEVERITY_WORDS.get(f.severity, f.severity)} {f.category} alert: {f.kind}"
        f" ({f.event} at {_hm(f.event_time)})",
        "",
        f"Who:  {who(f)}" + (f", device {f.device_id}" if f.device_id else ""),
        f"Why:  {f.reason}",
        f"Open since {_hm(f.opened_at)}; alert {f.alert_id}.",
        "",
        f"The patient's page: {links.patient}",
    ]
    if links.ack:
        lines += ["", "Acknowledge this alert (you alone, once; the page shows the patient's"
                  " current state before the button):", links.ack]
    lines += ["", reached, f"Notification {f.key}"]
    return Email(subject(f), "\n".join(lines) + "\n", f"<{f.key}@{domain}>")


def webhook_body(f: Facts, links: Links) -> bytes:
    """The JSON a webhook receives; compact and key-sorted, so the bytes signed are
    the bytes sent and one notification always reads the same."""
    body = {
        "notification_id": f.notification_id, "idempotency_key": f.key,
        "recipient": f.recipient, "tier": f.tier, "event_id": f.event_id, "event": f.event,
        "time": _iso(f.event_time), "severity": f.severity, "reason": f.reason,
        "alert_id": f.alert_id, "kind": f.kind, "category": f.category, "ward_id": f.ward_id,
        "patient_id": f.patient_id, "device_id": f.device_id or None,
        "opened_at": _iso(f.opened_at), "patient_url": links.patient, "ack_url": links.ack,
        "summary": subject(f),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sms_text(f: Facts, links: Links) -> str:
    """Short: an SMS is 160 characters a part; the reason is cut, the links are not."""
    head = f"{_SEVERITY_WORDS.get(f.severity, f.severity)} {f.kind} pt {f.patient_id}: "
    tail = f" {links.ack or links.patient}"
    room = max(20, 300 - len(head) - len(tail))
    reason = f.reason if len(f.reason) <= room else f.reason[:room - 1] + "…"
    return head + reason + tail


def signature(key: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Vward-Signature`` value of ``body`` sent at ``timestamp`` [Unix s]."""
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + mac


def signature_valid(key: bytes, timestamp: str, body: bytes, given: str, *, now: float,
                    tolerance: float = 300.0) -> bool:
    """A receiver's check (tests and docs/notifications.md): the signature matches,
    compared in constant time, and the timestamp is within ``tolerance`` of ``now``."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(key, ts, body), given or "")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _hm(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M}Z"
