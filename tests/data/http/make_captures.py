"""Record the HTTP/1.x test captures with real programs between two network namespaces (run as root).

    sudo .venv/bin/python tests/data/http/make_captures.py

Needs iproute2 (ip, tc), tcpdump and curl. A veth pair joins a client and a server namespace (MTU
1500, GSO limited to one segment so each segment is one captured frame); tcpdump records the server's
side. The server is
Python's http.server (HTTP/1.1, keep-alive) with a few paths: /sleep/<ms> answers after sleeping <ms>,
/big/<bytes> sends a body of that size, /chunked answers with Transfer-Encoding: chunked, anything unknown
is a 404.

http_mixed.pcap: curl with several requests on one keep-alive connection (Host api.example.test), a 404, a
HEAD, a POST, an HTTP/1.0 request, a large response spanning many segments, a chunked response; a raw
socket sending a pipelined pair of requests in one segment, and one sending a request split over two
segments 30 ms apart.

http_breakdown.pcap: truth known by construction. slow.example.test: 6 requests on one connection, each
answered after a 200 ms sleep (server time ~200 ms, dominant = server). bulk.example.test: 2 downloads of
100 kB through a 1 Mbit/s token bucket on the server's egress (transfer ~0.8 s each, dominant = transfer).
"""

from __future__ import annotations

import argparse
import http.server
import signal
import socket
import socketserver
import subprocess
import sys
import time
from pathlib import Path

CLIENT_NS, SERVER_NS = "pa_http_cli", "pa_http_srv"
CLIENT_IF, SERVER_IF = "pahttp-c", "pahttp-s"
CLIENT_IP, SERVER_IP = "10.77.14.1", "10.77.14.2"
PORT = 8080
OUT = Path(__file__).resolve().parent


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes | None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "sleep" and len(parts) == 2:
            time.sleep(int(parts[1]) / 1000)
            return b'{"slept": %s}\n' % parts[1].encode()
        if parts[0] == "big" and len(parts) == 2:
            return bytes(i % 251 for i in range(int(parts[1])))
        if parts[0] in ("", "api", "index.html"):
            return b"<html><body>hello</body></html>\n"
        return None

    def _answer(self, head_only: bool = False) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for piece in (b"first piece\n", b"x" * 3000, b"last\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"0\r\n\r\n")
            return
        body = self._body()
        if body is None:
            body = b"not found\n"
            self.send_response(404)
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer(head_only=True)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def run_server() -> None:
    server = Server((SERVER_IP, PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()


def _raw(segments: list[bytes], pause_s: float = 0.0, read_s: float = 1.0) -> None:
    """Send `segments` on one connection (TCP_NODELAY, one send each), then read until quiet."""
    with socket.create_connection((SERVER_IP, PORT)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, seg in enumerate(segments):
            if i:
                time.sleep(pause_s)
            s.sendall(seg)
        s.settimeout(read_s)
        try:
            while s.recv(65536):
                pass
        except TimeoutError:
            pass


def _curl(*args: str) -> None:
    resolve = [x for h in
               ("api.example.test", "www.example.test", "slow.example.test", "bulk.example.test")
               for x in ("--resolve", f"{h}:{PORT}:{SERVER_IP}")]
    subprocess.run(["curl", "-s", *resolve, *args], check=True, stdout=subprocess.DEVNULL)
    time.sleep(0.1)


def client_mixed() -> None:
    base = f"http://api.example.test:{PORT}"
    _curl(f"{base}/api/users", f"{base}/api/items?page=2", f"{base}/missing", f"{base}/sleep/50",
          f"{base}/api/users")  # one keep-alive connection, five requests
    _curl("-I", f"http://www.example.test:{PORT}/index.html")
    _curl("-d", "name=value&other=1", f"{base}/api/items")
    _curl("--http1.0", f"http://www.example.test:{PORT}/")
    _curl(f"http://www.example.test:{PORT}/big/60000")
    _curl(f"http://www.example.test:{PORT}/chunked")
    host = f"Host: www.example.test:{PORT}\r\n"
    pipelined = (f"GET /api/first HTTP/1.1\r\n{host}\r\n"
                 f"GET /nothing/here HTTP/1.1\r\n{host}\r\n").encode()
    _raw([pipelined])
    split = (f"GET /sleep/20?from=split HTTP/1.1\r\n{host}"
             "User-Agent: split-test\r\nAccept: */*\r\n\r\n").encode()
    _raw([split[:25], split[25:]], pause_s=0.03)


def client_breakdown() -> None:
    _curl(*[f"http://slow.example.test:{PORT}/sleep/200"] * 6)
    _curl(*[f"http://bulk.example.test:{PORT}/big/100000"] * 2)


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=None if check else subprocess.DEVNULL)


def _in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def set_up_link(rate: str | None) -> None:
    tear_down_link()
    for ns in (CLIENT_NS, SERVER_NS):
        sh("ip", "netns", "add", ns)
        sh(*_in_ns(ns, "ip", "link", "set", "lo", "up"))
    sh("ip", "link", "add", CLIENT_IF, "type", "veth", "peer", SERVER_IF)
    for ns, dev, ip in ((CLIENT_NS, CLIENT_IF, CLIENT_IP), (SERVER_NS, SERVER_IF, SERVER_IP)):
        sh("ip", "link", "set", dev, "netns", ns)
        sh(*_in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev))
        # one segment per frame: no GSO super-packets (ethtool is not needed for this)
        sh(*_in_ns(ns, "ip", "link", "set", dev, "gso_max_segs", "1"))
        sh(*_in_ns(ns, "ip", "link", "set", dev, "up"))
    if rate:
        sh(*_in_ns(SERVER_NS, "tc", "qdisc", "add", "dev", SERVER_IF, "root", "tbf", "rate", rate,
                   "burst", "8kb", "limit", "64kb"))  # fmt: skip


def tear_down_link() -> None:
    for ns in (CLIENT_NS, SERVER_NS):
        sh("ip", "netns", "del", ns, check=False)


def record(pcap: Path, scenario: str, rate: str | None = None) -> None:
    """Run one client scenario while tcpdump writes the server's side to `pcap`."""
    me = [sys.executable, str(Path(__file__).resolve())]
    set_up_link(rate)
    try:
        server = subprocess.Popen(_in_ns(SERVER_NS, *me, "_server"), stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        tcpdump = ["tcpdump", "-i", SERVER_IF, "-U", "-Z", "root", "-w", str(pcap), "tcp"]
        dump = subprocess.Popen(_in_ns(SERVER_NS, *tcpdump), stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        subprocess.run(_in_ns(CLIENT_NS, *me, scenario), check=True)
        time.sleep(1.0)
        dump.send_signal(signal.SIGINT)
        print(pcap.name, dump.communicate(timeout=10)[1].strip())
        server.kill()
        server.wait()
    finally:
        tear_down_link()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="record",
                        choices=("record", "_server", "_mixed", "_breakdown"))
    args = parser.parse_args()
    if args.role == "_server":
        run_server()
    elif args.role == "_mixed":
        client_mixed()
    elif args.role == "_breakdown":
        client_breakdown()
    else:
        record(OUT / "http_mixed.pcap", "_mixed")
        record(OUT / "http_breakdown.pcap", "_breakdown", rate="1mbit")


if __name__ == "__main__":
    main()
