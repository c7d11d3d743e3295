"""Flows: canonical bidirectional conversations and per-conversation aggregates."""
