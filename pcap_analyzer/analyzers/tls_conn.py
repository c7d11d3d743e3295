"""One TLS connection's handshake, followed record by record from its reassembled TCP payload.

Each direction's bytes are put back in sequence order (retransmitted bytes dropped), cut into records, and
handshake messages are reassembled across records. A record (and a message) is dated by the frame that
completes it, as tshark does. A segment that comes early but inside the record being put together is held
until the gap fills (tshark does the same within a PDU whose length it knows). After any other gap (a
segment missing from the capture) or bytes that are not a TLS record, the partial record is dropped and the
direction starts again at the next segment that begins with a record header, as tshark does. Following
stops when the handshake is done, or after MAX_BYTES per direction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pcap_analyzer.analyzers import tls_wire as w

MAX_BYTES = 256 * 1024  # per direction: a handshake longer than this is not followed further
MAX_HELD = 64  # early segments held per direction
_MOD = 1 << 32
_HALF = 1 << 31


@dataclass(slots=True)
class Counts:
    """Capture-wide message counts, shared by every connection."""

    client_hellos: int = 0
    server_hellos: int = 0
    server_names: Counter[str] = field(default_factory=Counter)
    alpn_offered: Counter[str] = field(default_factory=Counter)
    alpn_selected: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Side:
    next_seq: int | None = None
    records: bytearray = field(default_factory=bytearray)  # from a record boundary, not yet complete
    messages: bytearray = field(default_factory=bytearray)  # handshake bytes not yet a whole message
    lost: bool = False  # out of step: waiting for a segment that starts with a record header
    held: dict[int, bytes] = field(default_factory=dict)  # early segments inside the record, by seq
    record_end: int | None = None  # sequence number just after the partial record in `records`
    taken: int = 0
    ccs: bool = False  # sent a ChangeCipherSpec: its later records are encrypted (up to TLS 1.2)
    first_app_ns: int | None = None  # first application-data record after the ServerHello
    fin: bool = False


@dataclass(slots=True)
class TlsConnection:
    """Handshake facts of one TCP stream; `client_dir` is the FlowAssignment direction of the client."""

    stream: int
    client_dir: int
    addrs: tuple[int, int, int, int, int, int]  # client hi, lo, port, server hi, lo, port
    ch_ns: int | None = None
    ch_frame: int = 0
    sh_ns: int | None = None
    sh_frame: int | None = None
    done_ns: int | None = None
    version: int | None = None
    server_name: str | None = None
    alpn_offered: list[str] = field(default_factory=list)
    alpn_selected: str | None = None
    alert: str | None = None  # first fatal alert before the handshake was done
    alert_frame: int | None = None
    alert_from_client: bool = False
    broken: bool = False  # stopped following: cut by the snap length, reset, or too long
    sides: tuple[Side, Side] = field(default_factory=lambda: (Side(), Side()))

    @property
    def finished(self) -> bool:
        """Nothing more to learn: done, not TLS any more, reset or closed both ways."""
        return self.done_ns is not None or self.broken or (self.sides[0].fin and self.sides[1].fin)

    def feed(self, direction: int, seq: int, payload: bytes, frame: int, ts: int, counts: Counts) -> None:
        """Add one segment's payload (sequence number `seq`) sent in `direction`."""
        side = self.sides[direction]
        if side.next_seq is None:
            side.next_seq = seq
        ahead = (seq - side.next_seq) % _MOD
        if ahead and ahead < _HALF:  # bytes missing before this segment
            end = side.record_end
            if end is not None and 0 < (end - seq) % _MOD < _HALF and len(side.held) < MAX_HELD:
                side.held.setdefault(seq, payload)  # inside the record: wait for the gap to fill
                return
            side.lost, side.next_seq = True, seq
        if side.lost:
            side.records.clear()
            side.messages.clear()
            side.held.clear()
            if not w.starts_record(payload):
                side.next_seq = (seq + len(payload)) % _MOD
                side.taken += len(payload)
                self.broken = side.taken > MAX_BYTES
                return
            side.lost, side.next_seq = False, seq  # start again here, even over bytes taken for garbage
        self._append(side, seq, payload)
        while side.held:
            ready = [s for s in side.held if (side.next_seq - s) % _MOD < _HALF]  # at or behind next_seq
            if not ready:
                break
            for s in ready:
                self._append(side, s, side.held.pop(s))
        try:
            self._records(direction, side, frame, ts, counts)
        except w.Malformed:
            side.lost = True

    def _append(self, side: Side, seq: int, payload: bytes) -> None:
        assert side.next_seq is not None
        skip = (side.next_seq - seq) % _MOD  # bytes already received (a retransmission overlaps them)
        if skip >= len(payload):
            return
        side.records += payload[skip:]
        side.next_seq = (seq + len(payload)) % _MOD
        side.taken += len(payload) - skip
        if side.taken > MAX_BYTES:
            self.broken = True

    def _records(self, direction: int, side: Side, frame: int, ts: int, counts: Counts) -> None:
        buf, at = side.records, 0
        if self.ch_ns is None and w.is_sslv2_client_hello(buf):
            end = w.SSLV2_HEADER + (((buf[0] & 0x7F) << 8) | buf[1])
            if end > len(buf):
                return
            counts.client_hellos += 1  # an SSL 2.0-format ClientHello (RFC 5246 appendix E.2): no extensions
            self.ch_ns, self.ch_frame = ts, frame
            at = end
        while len(buf) - at >= w.RECORD_HEADER and not self.finished:
            ctype, length = w.record_header(buf, at)
            end = at + w.RECORD_HEADER + length
            if end > len(buf):
                break
            self._record(direction, side, ctype, bytes(buf[at + w.RECORD_HEADER : end]), frame, ts, counts)
            at = end
        del buf[:at]
        side.record_end = None
        if len(buf) >= w.RECORD_HEADER and side.next_seq is not None:
            missing = w.RECORD_HEADER + int.from_bytes(buf[3:5], "big") - len(buf)
            side.record_end = (side.next_seq + missing) % _MOD

    def _record(self, direction: int, side: Side, ctype: int, body: bytes, frame: int, ts: int,
                counts: Counts) -> None:  # fmt: skip
        tls13 = self.version == w.TLS13
        from_client = direction == self.client_dir
        if ctype == w.HANDSHAKE and not (side.ccs and not tls13):
            side.messages += body
            self._messages(side, from_client, frame, ts, counts)
        elif ctype == w.CHANGE_CIPHER_SPEC:
            side.ccs = True
            if not from_client and self.sh_ns is not None and not tls13:
                self.done_ns = ts
        elif ctype == w.ALERT and len(body) == 2 and not (side.ccs and not tls13):
            name = w.alert_name(body[1])
            counts.alerts[name] += 1
            if body[0] == w.ALERT_FATAL and self.alert is None and self.done_ns is None:
                self.alert, self.alert_frame, self.alert_from_client = name, frame, from_client
        elif ctype == w.APPLICATION_DATA and tls13 and self.sh_ns is not None:
            if side.first_app_ns is None:
                side.first_app_ns = ts
            other = self.sides[1 - direction].first_app_ns
            if other is not None:
                self.done_ns = max(ts, other)

    def _messages(self, side: Side, from_client: bool, frame: int, ts: int, counts: Counts) -> None:
        buf, at = side.messages, 0
        while len(buf) - at >= 4:
            kind, length = buf[at], int.from_bytes(buf[at + 1 : at + 4], "big")
            if length > w.MAX_RECORD * 4:
                raise w.Malformed(f"handshake message of {length} bytes")
            end = at + 4 + length
            if end > len(buf):
                break
            if kind in (w.CLIENT_HELLO, w.SERVER_HELLO):
                self._hello(kind, bytes(buf[at + 4 : end]), frame, ts, counts)
            at = end
        del buf[:at]

    def _hello(self, kind: int, body: bytes, frame: int, ts: int, counts: Counts) -> None:
        client = kind == w.CLIENT_HELLO
        if client:
            counts.client_hellos += 1
        else:
            counts.server_hellos += 1
        first = self.ch_ns is None if client else self.sh_ns is None and self.ch_ns is not None
        if first and client:
            self.ch_ns, self.ch_frame = ts, frame
        elif first:
            self.sh_ns, self.sh_frame = ts, frame
        hello = w.parse_hello(body, client)  # Malformed: the times above stand, the details are lost
        if client:
            if hello.server_name is not None:
                counts.server_names[hello.server_name] += 1
            counts.alpn_offered.update(hello.alpn)
            if first:
                self.server_name, self.alpn_offered = hello.server_name, hello.alpn
            return
        counts.alpn_selected.update(hello.alpn[:1])
        if first:
            self.version, self.alpn_selected = hello.version, hello.alpn[0] if hello.alpn else None
