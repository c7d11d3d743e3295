"""Address classes for the detectors (internal, external, multicast), vectorised over PacketTable addresses,
and their text in findings and Wireshark filters."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import format_addr

_V4_MAPPED = np.uint64(0x0000_FFFF_0000_0000)
_LOW32 = np.uint64(0xFFFF_FFFF)

# IPv4 blocks that are not reachable on the Internet, as (network, prefix length): RFC 1918, RFC 6598 shared
# space, loopback, link-local, "this network". The documentation blocks (RFC 5737) count as external.
_V4_INTERNAL = (
    (0x0A000000, 8),  # 10/8
    (0xAC100000, 12),  # 172.16/12
    (0xC0A80000, 16),  # 192.168/16
    (0x64400000, 10),  # 100.64/10
    (0x7F000000, 8),  # 127/8
    (0xA9FE0000, 16),  # 169.254/16
    (0x00000000, 8),  # 0/8
)


def is_v4(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    mask: npt.NDArray[np.bool_] = (hi == 0) & ((lo & ~_LOW32) == _V4_MAPPED)
    return mask


def _v4_in(v4: npt.NDArray[np.uint64], net: int, bits: int) -> npt.NDArray[np.bool_]:
    mask = np.uint64(((1 << bits) - 1) << (32 - bits))
    out: npt.NDArray[np.bool_] = (v4 & mask) == np.uint64(net)
    return out


def is_multicast(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Multicast or IPv4 broadcast (224/4, 255.255.255.255, ff00::/8)."""
    v4 = lo & _LOW32
    four = is_v4(hi, lo)
    out: npt.NDArray[np.bool_] = (four & (_v4_in(v4, 0xE0000000, 4) | (v4 == _LOW32))) | (
        ~four & ((hi >> np.uint64(56)) == np.uint64(0xFF))
    )
    return out


def is_internal(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Private, shared, loopback or link-local unicast addresses (IPv4 and IPv6 ULA fc00::/7,
    link-local fe80::/10, ::1)."""
    v4 = lo & _LOW32
    internal4 = np.zeros(hi.shape, np.bool_)
    for net, bits in _V4_INTERNAL:
        internal4 |= _v4_in(v4, net, bits)
    top = hi >> np.uint64(54)  # first 10 bits
    internal6 = ((hi >> np.uint64(57)) == np.uint64(0x7E)) | (top == np.uint64(0x3FA))
    internal6 |= (hi == 0) & (lo == 1)
    four = is_v4(hi, lo)
    out: npt.NDArray[np.bool_] = np.where(four, internal4, internal6)
    return out


def is_external(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Unicast addresses that are neither internal nor multicast/broadcast nor unspecified."""
    out: npt.NDArray[np.bool_] = ~is_internal(hi, lo) & ~is_multicast(hi, lo) & ~((hi == 0) & (lo == 0))
    return out


def addr_text(hi: int | np.integer, lo: int | np.integer) -> str:
    return format_addr(int(hi), int(lo))


def ip_field(hi: int | np.integer, lo: int | np.integer, which: str) -> str:
    """`ip.src == 10.0.0.1` / `ipv6.src == ::1` for which in ("src", "dst", "addr")."""
    text = addr_text(hi, lo)
    return f"{'ipv6' if ':' in text else 'ip'}.{which} == {text}"
