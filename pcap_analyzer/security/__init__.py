"""Security detectors: scans, floods, brute force, DNS tunnels, beacons, exfiltration, lateral movement."""
