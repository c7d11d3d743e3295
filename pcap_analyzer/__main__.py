"""`python -m pcap_analyzer` runs the command line (a plain `analyze` without loading Typer)."""

import sys

from pcap_analyzer.cli_analyze import fast_analyze

fast_analyze(sys.argv[1:])

from pcap_analyzer.cli import main  # noqa: E402  (only when the fast path did not take the command)

main()
