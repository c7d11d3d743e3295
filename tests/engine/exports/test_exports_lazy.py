"""The Public Suffix List package is imported only for captures with DNS names and reads its bundled list:
no network, nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from tests.engine.builders import records_from_scapy, write_pcap

DATA = Path(__file__).resolve().parents[2] / "data"
PROBE = """
import json, sys
from pcap_analyzer import analyze
import pcap_analyzer.cli
out = {"after_import": "publicsuffixlist" in sys.modules}
r = analyze(sys.argv[1])
out["after_tcp_only"] = "publicsuffixlist" in sys.modules
r = analyze(sys.argv[2])
out["after_dns"] = "publicsuffixlist" in sys.modules
out["domains"] = [d.domain for d in r.dns.domains]
print(json.dumps(out))
"""


def test_public_suffix_list_is_lazy_and_offline(tmp_path: Path) -> None:
    pkts = [Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="S")]
    tcp_only = write_pcap(tmp_path / "tcp.pcap", records_from_scapy(pkts))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    cmd = [sys.executable, "-c", PROBE, str(tcp_only), str(DATA / "netns_mixed_s128.pcap")]
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "--net", *cmd]  # no network: the Public Suffix List must come from the package
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {
        "after_import": False,
        "after_tcp_only": False,
        "after_dns": True,
        "domains": ["example.test", "svc.internal", "corp.example"],
    }
    assert list(home.rglob("*")) == []  # nothing cached or written
