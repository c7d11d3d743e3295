"""Regenerate tests/data/tls/tls_handshakes.pcap: real TLS handshakes between Python ssl programs.

Run as root, by hand (the capture is committed; tests never run this):

    sudo .venv/bin/python tests/data/tls/make_captures.py     # then: python3 tests/data/tls/make_oracle.py

Needs iproute2 (ip netns), ethtool, tcpdump and the openssl CLI (the certificates). Everything runs inside a
private network namespace (pa-tls) on its own loopback, whose MTU is set to 600 so that server flights span
several TCP segments. tcpdump records that loopback while, one connection at a time:

- server 127.0.0.1:443 (TLS 1.2-1.3, ALPN h2 and http/1.1, certificate for *.test signed by CA "A"):
  - 8 TLS 1.3 clients with SNI a.test offering ALPN h2, http/1.1 (selected: h2);
  - 8 TLS 1.2 clients with SNI b.test offering ALPN http/1.1 (selected: http/1.1, visible in 1.2);
  - 3 TLS 1.3 clients without SNI (server known by address:port);
  - 6 TLS 1.2 clients with SNI c.test that trust only CA "B": each rejects the certificate with a
    cleartext unknown_ca alert; 2 more in TLS 1.3 (OpenSSL sends that alert in cleartext too: the client
    has not switched to its handshake keys before it sends its Finished);
- server :8443 accepts TLS 1.3 only: 5 TLS 1.2 clients with SNI d.test get a protocol_version alert;
- server :8444 offers one TLS 1.2 cipher suite: 5 clients with SNI e.test offering another suite get a
  handshake_failure alert;
- relay :9443 -> :443 holds every server-to-client chunk for 40 ms: 6 TLS 1.3 and 2 TLS 1.2 clients with
  SNI slow.test see slow ServerHellos (and the relay's own leg to :443 is a second, fast, handshake);
- relay :9444 -> :443 forwards the client's first bytes as two TCP segments 5 ms apart: 3 TLS 1.3 and 3 TLS
  1.2 clients with SNI split.test, whose ClientHello (on the relay -> :443 leg) spans two segments.

Successful clients send one line and read the server's reply before closing. Ports 8443, 8444, 9443 and
9444 are not TLS ports for tshark: make_oracle.py decodes them as TLS.
"""

from __future__ import annotations

import argparse
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NS = "pa-tls"
HOST = "127.0.0.1"
MAIN_PORT, TLS13_ONLY_PORT, ONE_CIPHER_PORT, SLOW_RELAY_PORT, SPLIT_RELAY_PORT = 443, 8443, 8444, 9443, 9444
RELAY_DELAY_S = 0.040
SPLIT_AT, SPLIT_PAUSE_S = 60, 0.005
NAMES = ("a.test", "b.test", "c.test", "d.test", "e.test", "slow.test", "split.test")
SERVER_CIPHER = "ECDHE-ECDSA-AES128-GCM-SHA256"
CLIENT_CIPHER = "ECDHE-ECDSA-AES256-SHA"


# ------------------------------------------------------------------------------------------ certificates


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d: Path) -> None:
    """CA "A" signs the server certificate (P-256, SAN = NAMES); CA "B" signs nothing."""
    for ca in ("ca_a", "ca_b"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                 "3650", "-subj", f"/CN=pcap-analyzer test {ca}", "-keyout", str(d / f"{ca}.key"),
                 "-out", str(d / f"{ca}.pem"))  # fmt: skip
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=a.test",
             "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in NAMES) + ",IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca_a.pem"), "-CAkey",
             str(d / "ca_a.key"), "-CAcreateserial", "-days", "3650", "-extfile", str(d / "ext.cnf"),
             "-out", str(d / "server.pem"))  # fmt: skip
    (d / "chain.pem").write_text((d / "server.pem").read_text() + (d / "ca_a.pem").read_text())


# ---------------------------------------------------------------------------------------------- servers


def _server_context(d: Path, *, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "chain.pem", d / "server.key")
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def _listen(port: int) -> socket.socket:
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, port))
    lsock.listen(64)
    return lsock


def _serve_tls(port: int, ctx: ssl.SSLContext) -> None:
    lsock = _listen(port)

    def one(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                line = tls.recv(100)
                tls.sendall(b"pong " + line)
        except (ssl.SSLError, OSError):
            conn.close()

    def loop() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=one, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket, delay_s: float = 0.0, split: bool = False) -> None:
    first = True
    try:
        while data := src.recv(65536):
            if delay_s:
                time.sleep(delay_s)
            if split and first and len(data) > SPLIT_AT:
                dst.sendall(data[:SPLIT_AT])
                time.sleep(SPLIT_PAUSE_S)
                data = data[SPLIT_AT:]
            first = False
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _serve_relay(port: int, *, delay_s: float = 0.0, split: bool = False) -> None:
    """A TCP relay to MAIN_PORT: delays server-to-client chunks, or splits the client's first chunk."""
    lsock = _listen(port)

    def loop() -> None:
        while True:
            down, _ = lsock.accept()
            up = socket.create_connection((HOST, MAIN_PORT))
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_pump, args=(down, up, 0.0, split), daemon=True).start()
            threading.Thread(target=_pump, args=(up, down, delay_s), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


# ---------------------------------------------------------------------------------------------- clients


def _client(d: Path, port: int, sni: str | None, *, version: ssl.TLSVersion, ca: str = "ca_a",
            alpn: tuple[str, ...] = (), cipher: str | None = None) -> None:  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(d / f"{ca}.pem"))
    ctx.minimum_version = ctx.maximum_version = version
    if sni is None:
        ctx.check_hostname = False
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if cipher:
        ctx.set_ciphers(cipher)
    with socket.create_connection((HOST, port)) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname=sni) as tls:
                tls.sendall(b"ping\n")
                tls.recv(100)
        except (ssl.SSLError, OSError):
            pass
    time.sleep(0.05)


def run_scenario(d: Path) -> None:
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    _serve_tls(MAIN_PORT, _server_context(d, minimum=v12, maximum=v13))
    _serve_tls(TLS13_ONLY_PORT, _server_context(d, minimum=v13, maximum=v13))
    one_cipher = _server_context(d, minimum=v12, maximum=v12)
    one_cipher.set_ciphers(SERVER_CIPHER)
    _serve_tls(ONE_CIPHER_PORT, one_cipher)
    _serve_relay(SLOW_RELAY_PORT, delay_s=RELAY_DELAY_S)
    _serve_relay(SPLIT_RELAY_PORT, split=True)
    time.sleep(0.2)
    for _ in range(8):
        _client(d, MAIN_PORT, "a.test", version=v13, alpn=("h2", "http/1.1"))
    for _ in range(8):
        _client(d, MAIN_PORT, "b.test", version=v12, alpn=("http/1.1",))
    for _ in range(3):
        _client(d, MAIN_PORT, None, version=v13)
    for _ in range(6):
        _client(d, MAIN_PORT, "c.test", version=v12, ca="ca_b")
    for _ in range(2):
        _client(d, MAIN_PORT, "c.test", version=v13, ca="ca_b")
    for _ in range(5):
        _client(d, TLS13_ONLY_PORT, "d.test", version=v12)
    for _ in range(5):
        _client(d, ONE_CIPHER_PORT, "e.test", version=v12, cipher=CLIENT_CIPHER)
    for version in (v13,) * 6 + (v12,) * 2:
        _client(d, SLOW_RELAY_PORT, "slow.test", version=version, alpn=("h2",))
    for version in (v13, v12) * 3:
        _client(d, SPLIT_RELAY_PORT, "split.test", version=version)
    time.sleep(0.3)


# ------------------------------------------------------------------------------------------- recording


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=None if check else subprocess.DEVNULL)


def record(pcap: Path) -> None:
    me = [sys.executable, str(Path(__file__).resolve())]
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "mtu", "600", "up")
        # no segmentation offloads: every TCP segment is captured as the frame it is on a real link
        sh("ip", "netns", "exec", NS, "ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off")
        tcpdump = ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-Z", "root", "-w", str(pcap)]
        dump = subprocess.Popen(["ip", "netns", "exec", NS, *tcpdump], stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        with tempfile.TemporaryDirectory() as tmp:
            make_pki(Path(tmp))
            subprocess.run(["ip", "netns", "exec", NS, *me, "_scenario", tmp], check=True)
        time.sleep(0.3)
        dump.send_signal(signal.SIGINT)
        print(dump.communicate(timeout=10)[1].strip())
    finally:
        sh("ip", "netns", "del", NS, check=False)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_scenario":
        run_scenario(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    record(args.out / "tls_handshakes.pcap")


if __name__ == "__main__":
    main()
