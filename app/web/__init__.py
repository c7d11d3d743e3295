"""pcap-analyzer web service."""
