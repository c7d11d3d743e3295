"""`python -m pcap_analyzer` runs the command line."""

from pcap_analyzer.cli import main

main()
