"""TLS wire format: record headers, the hello messages' fields we report, alert and version names.

Only what the handshake analysis reads (RFC 8446 and RFC 5246 layouts); anything shorter than its declared
length raises `Malformed`, which ends the analysis of that connection, never the capture's.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field

# record content types (RFC 8446 section 5.1)
CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEARTBEAT = 24  # RFC 6520
# handshake types (RFC 8446 section 4)
CLIENT_HELLO = 1
SERVER_HELLO = 2
# extensions (IANA TLS ExtensionType Values)
EXT_SERVER_NAME = 0  # RFC 6066
EXT_ALPN = 16  # RFC 7301
EXT_SUPPORTED_VERSIONS = 43  # RFC 8446
RECORD_HEADER = 5
SSLV2_HEADER = 2  # the 2-byte header of an SSL 2.0 record without padding
SSLV2_CLIENT_HELLO = 1
MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext limit (RFC 5246 section 6.2.3)
ALERT_FATAL = 2
TLS13 = 0x0304

VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}

# Alert descriptions: the standard library's (OpenSSL's) names, plus the IANA "TLS Alerts" registry entries
# it lacks (https://www.iana.org/assignments/tls-parameters/tls-parameters.xhtml#tls-parameters-6).
_MORE_ALERTS = {
    21: "decryption_failed",  # RFC 5246
    41: "no_certificate",  # SSL 3.0
    60: "export_restriction",  # RFC 4346
    86: "inappropriate_fallback",  # RFC 7507
    109: "missing_extension",  # RFC 8446
    116: "certificate_required",  # RFC 8446
    120: "no_application_protocol",  # RFC 7301
    121: "ech_required",  # RFC 9849
}


@functools.cache
def alert_names() -> dict[int, str]:
    """{description code: name}. Built on first use: `ssl` loads OpenSSL (~5 MB), which only captures
    with TLS alerts need."""
    import ssl

    names = {int(a): a.name.removeprefix("ALERT_DESCRIPTION_").lower() for a in ssl.AlertDescription}
    return names | _MORE_ALERTS


class Malformed(ValueError):
    """Bytes that are not the TLS structure they should be."""


def alert_name(description: int) -> str:
    return alert_names().get(description, f"alert_{description}")


def version_name(version: int) -> str:
    return VERSIONS.get(version, f"0x{version:04x}")


def record_header(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """(content type, length) of the record header at `at`; Malformed unless it looks like TLS."""
    ctype, major, minor, length = struct.unpack_from("!BBBH", data, at)
    if not (CHANGE_CIPHER_SPEC <= ctype <= HEARTBEAT) or major != 3 or minor > 4 or length > MAX_RECORD:
        raise Malformed(f"not a TLS record header: {bytes(data[at : at + 5]).hex()}")
    return ctype, length


def is_sslv2_client_hello(data: bytes | bytearray) -> bool:
    """An SSL 2.0-format ClientHello offering SSL 3.0 or TLS (RFC 5246 appendix E.2), as old clients send."""
    return (
        len(data) >= 5
        and data[0] & 0x80 != 0
        and data[2] == SSLV2_CLIENT_HELLO
        and data[3] == 3
        and data[4] <= 4
    )


def starts_record(data: bytes) -> bool:
    """Whether `data` begins with what looks like a TLS record header."""
    if len(data) < RECORD_HEADER:
        return False
    try:
        record_header(data, 0)
    except Malformed:
        return False
    return True


@dataclass(slots=True)
class Hello:
    """The fields of a ClientHello or ServerHello the report uses."""

    version: int = 0  # legacy_version, replaced by supported_versions in a ServerHello
    server_name: str | None = None
    alpn: list[str] = field(default_factory=list)


def _u16(data: bytes, at: int) -> int:
    return (data[at] << 8) | data[at + 1]


def _vector(data: bytes, at: int, size_bytes: int, end: int) -> tuple[int, int]:
    """(start, end) of the length-prefixed field at `at`; Malformed when it overruns `end`."""
    if at + size_bytes > end:
        raise Malformed(f"length field at {at} overruns the message ({end} bytes)")
    n = data[at] if size_bytes == 1 else _u16(data, at)
    start = at + size_bytes
    if start + n > end:
        raise Malformed(f"{n} bytes announced at {at}, {end - start} left")
    return start, start + n


def _alpn(data: bytes, at: int, end: int) -> list[str]:
    at, end = _vector(data, at, 2, end)
    out = []
    while at < end:
        start, at = _vector(data, at, 1, end)
        out.append(data[start:at].decode("ascii", "replace"))
    return out


def _server_name(data: bytes, at: int, end: int) -> str | None:
    at, end = _vector(data, at, 2, end)
    while at < end:
        kind = data[at]
        start, at = _vector(data, at + 1, 2, end)
        if kind == 0:  # host_name (RFC 6066 section 3)
            return data[start:at].decode("ascii", "replace")
    return None


def parse_hello(body: bytes, client: bool) -> Hello:
    """Version, SNI and ALPN of a ClientHello (`client`) or ServerHello body (after the 4-byte header)."""
    n = len(body)
    if n < 35:
        raise Malformed(f"hello of {n} bytes")
    hello = Hello(version=_u16(body, 0))
    _, at = _vector(body, 34, 1, n)  # after random: legacy_session_id
    if client:
        _, at = _vector(body, at, 2, n)  # cipher_suites
        _, at = _vector(body, at, 1, n)  # legacy_compression_methods
    else:
        at += 3  # cipher_suite, legacy_compression_method
    if at >= n:
        if at > n:
            raise Malformed("ServerHello cut before its extensions")
        return hello  # no extensions (TLS 1.2 and older may omit them)
    if at + 2 > n:
        raise Malformed("extensions length cut")
    # like tshark, read the extensions of a message cut short (or lying about its length) as far as they go
    end = min(n, at + 2 + _u16(body, at))
    at += 2
    while at + 4 <= end:
        kind = _u16(body, at)
        try:
            start, at = _vector(body, at + 2, 2, end)
            if kind == EXT_SERVER_NAME and client and at > start:
                hello.server_name = _server_name(body, start, at)
            elif kind == EXT_ALPN:
                hello.alpn = _alpn(body, start, at)
            elif kind == EXT_SUPPORTED_VERSIONS and not client and at - start >= 2:
                hello.version = _u16(body, start)
        except Malformed:
            break  # a broken extension: keep what the ones before it said, as tshark does
    return hello
