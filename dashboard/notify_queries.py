"""SQL of the ward figures about reaching people (issue 13, item 6): how soon an
alert's first notification was delivered and who acknowledged it how soon, by
tier and channel; the re-measurements asked and what came back; escalations to
tiers 2 and 3; deliveries that failed.  Read from the notifier's outbox
(migration 014), the alerts' ack_via (015) and remeasure_requests (016);
parameterised, data out, no figures (dashboard/notify_figures.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from dashboard.figures import Spread

# Alerts opened in the period, as the other ward figures count them (queries.outcomes).
_OPENED = "a.ward_id = %(ward)s AND a.opened_at >= %(start)s AND a.opened_at < %(end)s"
_SPREAD = ("count(*)::int, percentile_cont(ARRAY[0.05, 0.25, 0.5, 0.75, 0.95])"
           " WITHIN GROUP (ORDER BY extract(epoch FROM {x}))")

# The first notification delivered, per alert and per (tier, channel) reached; tier
# NULL: the ward's admins (technical alerts).  "Anyone" first: the headline figure.
_FIRST_DELIVERED = f"""
WITH firsts AS (
    SELECT a.alert_id, a.opened_at, n.tier, n.channel, min(n.sent_at) AS sent_at
    FROM alerts a JOIN notifications n USING (alert_id)
    WHERE {_OPENED} AND n.state = 'sent'
    GROUP BY a.alert_id, a.opened_at, n.tier, n.channel)
SELECT 0 AS tier_order, '' AS channel, 'anyone' AS grp,
       {_SPREAD.format(x="d.sent_at - d.opened_at")}
FROM (SELECT alert_id, opened_at, min(sent_at) AS sent_at FROM firsts
      GROUP BY alert_id, opened_at) d
HAVING count(*) > 0
UNION ALL
SELECT coalesce(tier, 9), channel, coalesce('tier ' || tier, 'admins'),
       {_SPREAD.format(x="sent_at - opened_at")}
FROM firsts GROUP BY tier, channel
ORDER BY 1, 2
"""

# Acknowledged alerts, by the tier their acknowledger was notified at (the lowest, if
# several; 'not notified' when nobody notified them: they saw it on the dashboard) and
# how they acknowledged it (alerts.ack_via; NULL before migration 015).
_TO_ACK = f"""
SELECT coalesce(r.tier, 9), coalesce(a.ack_via, ''),
       coalesce('tier ' || r.tier, 'not notified'),
       {_SPREAD.format(x="a.acknowledged_at - a.opened_at")}
FROM alerts a LEFT JOIN LATERAL (
    SELECT min(n.tier) AS tier FROM notifications n
    WHERE n.alert_id = a.alert_id AND n.recipient = a.acknowledged_by
      AND n.state = 'sent' AND n.sent_at <= a.acknowledged_at) r ON true
WHERE {_OPENED} AND a.acknowledged_at IS NOT NULL
GROUP BY r.tier, a.ack_via ORDER BY 1, 2
"""

_REMEASURE = """
SELECT count(*)::int,
       count(*) FILTER (WHERE outcome = 'confirmed')::int,
       count(*) FILTER (WHERE outcome = 'not_confirmed')::int,
       count(*) FILTER (WHERE outcome = 'unanswered')::int,
       count(*) FILTER (WHERE outcome = 'superseded')::int,
       count(*) FILTER (WHERE outcome = 'cancelled')::int,
       count(*) FILTER (WHERE outcome IS NULL)::int
FROM remeasure_requests
WHERE ward_id = %(ward)s AND asked_at >= %(start)s AND asked_at < %(end)s
"""

# Alerts that reached tier 2 or 3, by how: on an 'escalated' event (unacknowledged past
# its escalation time, or its severity rose), or at once (an emergency's tiers 1 and
# 2 together; a rota gap sending to the next tier).  Planned notifications count,
# delivered or not: the escalation happened even where a delivery failed.
_ESCALATIONS = f"""
SELECT n.tier, count(DISTINCT n.alert_id) FILTER (WHERE e.event = 'escalated')::int,
       count(DISTINCT n.alert_id) FILTER (WHERE e.event <> 'escalated')::int
FROM alerts a JOIN notifications n USING (alert_id)
     JOIN alert_events e ON e.event_id = n.event_id
WHERE {_OPENED} AND n.tier IN (2, 3)
GROUP BY n.tier ORDER BY n.tier
"""

# Deliveries planned in the period, by channel: where they stand, and the attempts
# that failed (retried, or given up: a notification_failed alert for the admins).
_DELIVERIES = """
SELECT n.channel, count(*) FILTER (WHERE n.state = 'sent')::int,
       count(*) FILTER (WHERE n.state = 'failed')::int,
       count(*) FILTER (WHERE n.state = 'pending')::int,
       coalesce(sum((SELECT count(*) FROM notification_attempts t
                     WHERE t.notification_id = n.notification_id
                       AND t.outcome = 'failed')), 0)::int
FROM notifications n
WHERE n.ward_id = %(ward)s AND n.created_at >= %(start)s AND n.created_at < %(end)s
GROUP BY n.channel ORDER BY n.channel
"""


@dataclass(frozen=True, slots=True)
class Remeasures:
    asked: int
    confirmed: int
    not_confirmed: int  # no alert: "resolved by re-measurement"
    unanswered: int
    superseded: int  # reached emergency before the answer: the alert opened at once
    cancelled: int  # discharged while waiting
    waiting: int


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    sent: int
    failed: int  # given up
    pending: int
    failed_attempts: int


@dataclass(frozen=True, slots=True)
class NotifyFigures:
    to_delivered: list[tuple[str, Spread]]  # (channel, spread by tier); channel '' for anyone
    to_ack: list[tuple[str, Spread]]  # (ack_via, spread by the acknowledger's tier)
    remeasures: Remeasures
    escalations: list[tuple[int, int, int]]  # tier, escalated, at once
    deliveries: list[Delivery]


def notify_figures(conn: psycopg.Connection, ward_id: str, start: datetime,
                   end: datetime) -> NotifyFigures:
    """The ward's figures about reaching people over [start, end)."""
    args = {"ward": ward_id, "start": start, "end": end}
    delivered = [(channel, Spread(group, n, *q)) for _, channel, group, n, q
                 in conn.execute(_FIRST_DELIVERED, args)]
    to_ack = [(via, Spread(group, n, *q)) for _, via, group, n, q
              in conn.execute(_TO_ACK, args)]
    row = conn.execute(_REMEASURE, args).fetchone()
    assert row is not None
    return NotifyFigures(
        delivered, to_ack, Remeasures(*row),
        [tuple(r) for r in conn.execute(_ESCALATIONS, args)],
        [Delivery(*r) for r in conn.execute(_DELIVERIES, args)])
