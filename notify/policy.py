"""Who is told of an alert event, and by which channels: pure, no I/O, ``now``
passed in.  The notifier's outbox (notify/outbox.py) asks ``audience`` for each
alert event, the rota (ward/rota.py ``route``) for who is on call in those
tiers, and ``deliveries`` for one message per person and channel.

The rules, each with its reason (docs/notifications.md; hazard log H35–H39):

- Only an alert that opens or is escalated is notified (the engine's
  'escalated' covers a rise in severity, a new red parameter, an alert left
  unacknowledged past its escalation time and an acknowledgement that lapsed).
  'updated' (something fell), 'reconciled', 'acknowledged' and 'resolved' page
  nobody: a message saying "done" at 3 a.m. wakes someone for nothing, and the
  escalation it would have stopped has stopped already (the engine escalates
  only unacknowledged alerts).  The dashboard shows them all.
- ``emergency``: tiers 1 and 2 at once (NEWS2 7+: an emergency response, the
  senior clinician is told at the same time as the hub nurse); escalated, tier
  3 as well (5 min unacknowledged, or acknowledged 30 min ago and still an
  emergency: the consultant on call).
- ``urgent``: tier 1; escalated, tiers 1 and 2 (NHS virtual-ward standard
  AF178: an unacknowledged alert is re-sent, and to someone more senior).
- ``low``: tier 1 only, escalated or not (a look at the next round).
- ``info``: nobody.
- A technical alert (device, battery, scoring, notification failed) goes to
  the ward's admins, who fix the ward, not to the clinicians on call.
- A paused kind (ward/pauses.py) is not notified unless it is an emergency
  (``active`` never pauses one).
- An event the notifier reaches late (it was down) for an alert that is
  resolved by now is not sent: the patient's state it reported is over.  A
  live alert's event is sent however late.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ward.severity import Severity, severity_of

NOTIFIED_EVENTS = ("opened", "escalated")
CHANNELS = ("email", "webhook", "sms")

# The tiers each severity reaches: (on opening, on escalation).  Tier 1: hub nurse,
# tier 2: senior clinician, tier 3: consultant on call (issue 13).
TIERS: dict[Severity, tuple[tuple[int, ...], tuple[int, ...]]] = {
    Severity.EMERGENCY: ((1, 2), (1, 2, 3)),
    Severity.URGENT: ((1,), (1, 2)),
    Severity.LOW: ((1,), (1,)),
    Severity.INFO: ((), ()),
}

TECHNICAL = "technical"
NOTIFICATION_FAILED = "notification_failed"  # the technical alert the notifier raises


@dataclass(frozen=True, slots=True)
class Event:
    """What the policy reads of one alert event.

    alert_state : the alert's state now ('resolved' once it is over)
    paused_until : the end of a pause in force for the alert's kind and patient
        (ward/pauses.active), None if none
    """

    event: str
    severity: str
    category: str
    kind: str
    alert_state: str
    paused_until: str | None = None


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an event goes to: rota ``tiers`` (to be routed), or the ward's ``admins``;
    nobody when both are empty.  ``reason`` says why, in words an auditor reads."""

    tiers: tuple[int, ...]
    admins: bool
    reason: str

    @property
    def nobody(self) -> bool:
        return not self.tiers and not self.admins


@dataclass(frozen=True, slots=True)
class Contact:
    """Where a person is reached: ward/rota.Contact's fields (None: none)."""

    name: str
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send: to ``recipient`` on ``channel`` at ``address``, reached as
    ``tier`` (None: as an admin).  ``key`` is its idempotency key."""

    recipient: str
    tier: int | None
    channel: str
    address: str
    key: str


def audience(e: Event) -> Audience:
    """Who ``e`` goes to (the rules in this module's docstring)."""
    if e.event not in NOTIFIED_EVENTS:
        return Audience((), False, f"'{e.event}' pages nobody (shown on the dashboard)")
    if e.alert_state == "resolved":
        return Audience((), False, "resolved before it could be notified")
    try:
        severity = severity_of(e.severity)
    except KeyError:
        # A severity this module does not know: when in doubt, tell the senior tiers.
        return Audience((1, 2), False, f"unknown severity {e.severity!r}: tiers 1 and 2")
    if severity == Severity.INFO:
        return Audience((), False, "info pages nobody")
    if e.paused_until is not None and severity < Severity.EMERGENCY:
        return Audience((), False, f"{e.kind} paused until {e.paused_until}")
    if e.category == TECHNICAL:
        return Audience((), True, f"technical alert ({e.kind}): the ward's admins")
    opened, escalated = TIERS[severity]
    tiers = escalated if e.event == "escalated" else opened
    words = " and ".join(str(t) for t in tiers)
    return Audience(tiers, False, f"{e.severity} {e.event}: tier{'s' if len(tiers) > 1 else ''}"
                                  f" {words}")


def deliveries(event_id: int, routed: Mapping[int | None, tuple[str, ...]],
               contacts: Mapping[str, Contact], *, sms: bool) -> list[Delivery]:
    """One delivery per person and channel they have: email, webhook, and SMS when
    the ward has an SMS gateway (``sms``).  ``routed``: tier (None for admins) → names,
    as rota.route returns it; a person is listed once, under the first tier given.
    A person without any usable contact gets nothing (the caller counts that)."""
    out: list[Delivery] = []
    seen: set[str] = set()
    for tier in sorted(routed, key=lambda t: (t is None, t or 0)):
        for name in routed[tier]:
            if name in seen or name not in contacts:
                continue
            seen.add(name)
            c = contacts[name]
            for channel, address in (("email", c.email), ("webhook", c.webhook_url),
                                     ("sms", c.phone if sms else None)):
                if address:
                    out.append(Delivery(name, tier, channel, address,
                                        idempotency_key(event_id, name, channel)))
    return out


def idempotency_key(event_id: int, recipient: str, channel: str) -> str:
    """The same for every attempt at one message: the receiver drops a repeat by it.
    User names are [A-Za-z0-9._-] (migration 003), so the key is header- and
    Message-ID-safe as it is."""
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r}: one of {', '.join(CHANNELS)}")
    if event_id < 1 or not recipient:
        raise ValueError("an idempotency key needs an event id and a recipient")
    return f"vward-{event_id}-{recipient}-{channel}"


def retry_delay(attempts: int, delays: tuple[float, ...]) -> float:
    """Seconds to wait after the ``attempts``-th failure [s]: ``delays`` in turn, the
    last repeated."""
    if attempts < 1 or not delays:
        raise ValueError("a delay follows a failed attempt, from a non-empty list")
    return delays[min(attempts, len(delays)) - 1]


def give_up(attempts: int, max_attempts: int) -> bool:
    """Whether a delivery that has failed ``attempts`` times is given up."""
    return attempts >= max_attempts


def raises_failure_alert(kind: str) -> bool:
    """A failed delivery raises notification_failed, unless it was itself the news of
    a failed notification: that would loop (the admins' channel is what failed)."""
    return kind != NOTIFICATION_FAILED


def parse_delays(text: str) -> tuple[float, ...]:
    """VWARD_NOTIFY_RETRY_SECONDS: '10,30,120' → (10.0, 30.0, 120.0); ValueError
    saying what is wrong otherwise."""
    try:
        delays = tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"VWARD_NOTIFY_RETRY_SECONDS={text!r}: comma-separated seconds,"
                         " e.g. 10,30,120,600") from None
    if not delays or any(not d >= 0 for d in delays):
        raise ValueError(f"VWARD_NOTIFY_RETRY_SECONDS={text!r}: one or more non-negative"
                         " seconds")
    return delays
