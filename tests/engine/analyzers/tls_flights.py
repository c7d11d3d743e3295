"""Real TLS handshake bytes for tests: Python's ssl client and server talking through memory buffers."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

Flight = tuple[int, bytes]  # (direction: 0 client -> server, 1 server -> client; bytes)


def make_cert(d: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for x.test and its key, written in `d` by the openssl CLI."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "30", "-subj", "/CN=x.test", "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return d / "c.pem", d / "k.pem"


def handshake(cert: tuple[Path, Path], version: ssl.TLSVersion) -> list[Flight]:
    """The bytes each side sends, flight by flight, for a handshake then one request and its answer."""
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname, cctx.verify_mode = False, ssl.CERT_NONE
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(*cert)
    for ctx in (cctx, sctx):
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    bios = [ssl.MemoryBIO() for _ in range(4)]  # client in, client out, server in, server out
    client = cctx.wrap_bio(bios[0], bios[1], server_hostname="x.test")
    server = sctx.wrap_bio(bios[2], bios[3], server_side=True)
    flights: list[Flight] = []

    def step(obj: ssl.SSLObject, out: ssl.MemoryBIO, peer_in: ssl.MemoryBIO, direction: int) -> bool:
        try:
            obj.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        data = out.read()
        if data:
            flights.append((direction, data))
            peer_in.write(data)
        return done

    c_done = s_done = False
    for _ in range(10):
        c_done = step(client, bios[1], bios[2], 0) or c_done
        s_done = step(server, bios[3], bios[0], 1) or s_done
        if c_done and s_done:
            break
    client.write(b"GET / HTTP/1.1\r\n\r\n")
    flights.append((0, bios[1].read()))
    return flights
