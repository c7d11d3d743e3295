"""TCP analysis: per-connection sequence tracking with Wireshark's tcp.analysis.* definitions."""
