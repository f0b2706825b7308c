"""Many devices' MQTT connections from one thread: every simulated device is
its own paho client with its own credentials (the broker lets a device
publish only under its own topics), QoS 1, its last will on its status topic;
all of them are driven through paho's external-loop API (`socket()`,
`loop_read`, `loop_write`, `loop_misc`) and one `selectors` loop.

Measured on 2 cores: 10,000 devices connect in ~10 s (the broker checks each
password) and publish 1,000 QoS 1 messages/s for ~25 % of one core
(docs/simulators.md), so no hand-written MQTT client is needed."""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from simulators import messages as m
from simulators.errors import SimulatorError
from simulators.plan import DeviceInfo
from ward.processes import raise_open_files_limit
from ward.tls_files import client_context
from ward.topics import commands_topic

log = logging.getLogger(__name__)

# Device connection states.
IDLE, CONNECTING, ONLINE, DROPPED, LOST, FAILED = range(6)
_MAX_REFUSALS = 5  # a just-registered password may reach the broker a moment late
_RETRY_S = 1.0  # first wait before reconnecting a device that lost its connection [s]
_MISC_PERIOD_S = 5.0  # each client's keepalive is looked after this often [s]
_SPARE_FILES = 64  # open files besides the devices' sockets
_CONNECT_TIMEOUT_S = 15.0  # connecting stops waiting after this long without progress [s]
POLL_S = 0.05  # longest wait in select: how fast a stop is noticed [s]


def _pending(sock: object) -> int:
    pending = getattr(sock, "pending", None)
    return pending() if pending is not None else 0


class Connections:
    """The MQTT connections of `devices` (index i is devices[i]).

    passwords : per device id.  wills : each device's last will (an Outgoing).
    protocol : paho's MQTT version, the broker's (ward.broker_names.mqtt_protocol).
    tls_ca : the CA to trust on the broker's TLS port (None: plain MQTT); one
    context serves every device.  wave : connection handshakes under way at
    once.  listen : per device, whether it subscribes to its commands topic
    (what arrives waits in `commands`).  Counts what was sent (by kind), acked and
    refused (a PUBACK with a failure reason code).
    """

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        passwords: dict[str, str],
        wills: Sequence[m.Outgoing],
        *,
        host: str,
        port: int,
        protocol: MQTTProtocolVersion,
        tls_ca: Path | str | None = None,
        keepalive: int = 60,
        wave: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
        listen: Sequence[bool] | None = None,
    ) -> None:
        missing = [d.device_id for d in devices if d.device_id not in passwords]
        if missing:
            raise SimulatorError(
                f"no MQTT password for {len(missing)} device(s), e.g. {missing[0]}"
            )
        self._ids = [d.device_id for d in devices]
        self._index = {device_id: i for i, device_id in enumerate(self._ids)}
        self._host, self._port, self._keepalive = host, port, keepalive
        self._protocol, self._v5 = protocol, protocol == mqtt.MQTTv5
        self._wave, self._monotonic = wave, monotonic
        self._tls = client_context(tls_ca) if tls_ca is not None else None
        n = len(devices)
        self.state = bytearray(n)
        self._refusals = bytearray(n)
        self._dropping = bytearray(n)  # closing on purpose: a fault, or an abrupt stop
        self._sel = selectors.DefaultSelector()
        self._retry: deque[tuple[float, int]] = deque()
        self._misc_cursor = 0
        self._closing = False
        self.connected = 0
        self.sent: Counter[str] = Counter()
        self.acked = 0
        self.refused = 0
        # Devices that subscribe to their commands topic, and what arrived there
        # (device index, payload) for the runner to act on.
        self._listen = [False] * n if listen is None else list(listen)
        self.commands: deque[tuple[int, bytes]] = deque()
        self._clients = [self._client(i, passwords[self._ids[i]], wills[i]) for i in range(n)]

    def __len__(self) -> int:
        return len(self._clients)

    def count(self, state: int) -> int:
        return self.state.count(state)

    # -- paho clients and their callbacks (tiny, never raising) --------------

    def _client(self, i: int, password: str, will: m.Outgoing) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self._ids[i], userdata=i,
            protocol=self._protocol,
        )
        c.username_pw_set(self._ids[i], password)
        if self._tls is not None:
            c.tls_set_context(self._tls)
        c.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        c.max_queued_messages_set(0)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        return c

    def _on_connect(self, client, i, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                self._refusals[i] = min(self._refusals[i] + 1, 255)
                log.debug("%s: refused: %s", self._ids[i], reason_code)
            else:
                self.state[i] = ONLINE
                self._refusals[i] = 0
                self.connected += 1
                if self._listen[i]:
                    client.subscribe(commands_topic(self._ids[i]), qos=1)
        except Exception:
            log.exception("on_connect")

    def _on_disconnect(self, client, i, flags, reason_code, properties) -> None:
        try:
            if self.state[i] == ONLINE:
                self.connected -= 1
            if self._dropping[i]:
                self._dropping[i] = 0
                self.state[i] = DROPPED
            elif self._closing:
                self.state[i] = IDLE
            elif self._refusals[i] >= _MAX_REFUSALS:
                self.state[i] = FAILED
                log.warning("%s: refused %d times; given up", self._ids[i], _MAX_REFUSALS)
            else:
                self.state[i] = LOST
                delay = _RETRY_S * (1 + self._refusals[i])
                self._retry.append((self._monotonic() + delay, i))
        except Exception:
            log.exception("on_disconnect")

    def _on_message(self, client, i, msg) -> None:
        self.commands.append((i, msg.payload))

    def _on_publish(self, client, i, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused += 1
        else:
            self.acked += 1

    def _on_socket_open(self, client, i, sock) -> None:
        try:
            self._sel.register(sock, selectors.EVENT_READ, i)
        except Exception:
            log.exception("on_socket_open")

    def _on_socket_close(self, client, i, sock) -> None:
        try:
            self._sel.unregister(sock)
        except Exception:
            log.debug("socket of device %d was not registered", i)

    # -- connecting and dropping -----------------------------------------------

    def _connect(self, i: int) -> None:
        self.state[i] = CONNECTING
        extra = {"clean_start": True} if self._v5 else {}
        try:
            self._clients[i].connect(self._host, self._port, keepalive=self._keepalive, **extra)
        except OSError as exc:  # ssl.SSLError too (a certificate the CA does not vouch for)
            log.debug("%s: cannot connect: %s", self._ids[i], exc)
            self.state[i] = LOST
            self._retry.append((self._monotonic() + _RETRY_S * 5, i))

    def _drop(self, i: int) -> None:
        """End a connection without DISCONNECT, so the broker sends the will."""
        c = self._clients[i]
        sock = c.socket()
        if sock is None:
            return
        self._dropping[i] = 1
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        c.loop_read()  # paho reads the end of the stream and closes its side

    def connect_all(self, *, stopped: Callable[[], bool], tick: Callable[[], None]) -> float:
        """Connect every device, at most `wave` handshakes at a time (a broker
        accepts only so many at once: Mosquitto's listen backlog is 100), and
        wait for those the broker refused at first (a password it has not
        reread yet); calls `tick` as it goes.  Returns the real seconds it took."""
        t0 = self._monotonic()
        n, first, waiting = len(self._clients), 0, set[int]()
        limit = raise_open_files_limit()
        if limit < n + _SPARE_FILES:
            raise SimulatorError(
                f"{n:,} devices need {n + _SPARE_FILES:,} open files, and this process may"
                f" open {limit:,}: raise the limit (ulimit -n) or simulate fewer patients"
            )
        progress_at, connected = t0, 0
        while not stopped():
            while first < n and len(waiting) < self._wave:
                self._connect(first)
                waiting.add(first)
                first += 1
            self.pump(POLL_S)
            self.retry_due()
            waiting = {i for i in waiting if self.state[i] == CONNECTING}
            if first == n and not self.count(CONNECTING) and not self.count(LOST):
                break
            now = self._monotonic()
            if self.connected > connected:
                progress_at, connected = now, self.connected
            elif now - progress_at > _CONNECT_TIMEOUT_S:
                break  # the rest keep trying while the run goes on
            tick()
        if self.connected == 0 and not stopped():
            raise SimulatorError(
                f"no device could connect to the broker at {self._host}:{self._port}"
                " (is it running, and does it know the devices' passwords?)"
            )
        return self._monotonic() - t0

    def retry_due(self) -> None:
        now, budget = self._monotonic(), self._wave
        while self._retry and self._retry[0][0] <= now and budget:
            _, i = self._retry.popleft()
            if self.state[i] == LOST:
                self._connect(i)
                budget -= 1

    # -- sending and the socket loop ---------------------------------------------

    def send(self, o: m.Outgoing) -> bool:
        """Publish o from its device: a 'will' drops the device's connection,
        and a dropped device reconnects before it sends again.  False if
        nothing was published."""
        i = self._index[o.device_id]
        state = self.state[i]
        if o.kind == "will":
            if state in (ONLINE, CONNECTING):
                self._drop(i)
            return False
        if state == FAILED:
            return False
        if state == DROPPED:
            self._connect(i)
        c = self._clients[i]
        c.publish(o.topic, o.payload, qos=o.qos, retain=o.retain)
        self.sent[o.kind] += 1
        sock = c.socket()
        if sock is not None and c.want_write():
            self._sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
        return True

    def pump(self, timeout: float) -> None:
        """Wait up to `timeout` [s] for the sockets, and let paho read and write."""
        for key, events in self._sel.select(timeout):
            i = key.data
            c = self._clients[i]
            try:
                if events & selectors.EVENT_READ:
                    c.loop_read()
                    # TLS may hold decrypted bytes that select() cannot see.
                    while (s := c.socket()) is key.fileobj and _pending(s):
                        c.loop_read()
                if c.socket() is not key.fileobj:
                    continue  # closed (and maybe reopened) while reading
                if events & selectors.EVENT_WRITE:
                    c.loop_write()
                # Writability is wanted while paho has bytes to send (a full
                # socket buffer, or queued messages released by an ack).
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.want_write() else 0)
                if want != key.events:
                    self._sel.modify(key.fileobj, want, i)
            except Exception:
                log.exception("device %s", self._ids[i])

    def misc(self, dt: float) -> None:
        """Keepalives: visit the share of clients that dt [s] is of _MISC_PERIOD_S."""
        n = len(self._clients)
        for _ in range(min(n, int(n * dt / _MISC_PERIOD_S) + 1)):
            i = self._misc_cursor
            self._misc_cursor = (i + 1) % n
            if self.state[i] == ONLINE:
                self._clients[i].loop_misc()

    @property
    def unacked(self) -> int:
        return sum(self.sent.values()) - self.acked - self.refused

    def close(self, *, abrupt: Callable[[], bool], drain_s: float = 5.0) -> None:
        """Wait (up to drain_s) for the broker's acks, then disconnect every
        device; once `abrupt()`, drop every connection instead (wills fire)."""
        self._closing = True
        deadline = self._monotonic() + drain_s
        if not abrupt() and self.unacked > 0:
            # A device dropped off (the offline fault) may hold a reading the broker never
            # acked: as a real one would, it comes back and sends it again, or the run would
            # end with that reading neither delivered nor counted as refused.
            for i in [i for i, s in enumerate(self.state) if s == DROPPED]:
                self._connect(i)
        while not abrupt() and self.unacked > 0 and self._monotonic() < deadline:
            self.pump(POLL_S)
        drop = abrupt()
        for i in [i for i, s in enumerate(self.state) if s in (ONLINE, CONNECTING)]:
            if drop:
                self._drop(i)
            else:
                self._clients[i].disconnect()
        deadline = self._monotonic() + 5.0
        while self.connected > 0 and self._monotonic() < deadline:
            self.pump(POLL_S)
        for key in list(self._sel.get_map().values()):
            self._sel.unregister(key.fileobj)
            key.fileobj.close()
        self._sel.close()
