"""Streaming analyzers: each one module with one class, fed PacketBatch by PacketBatch."""
