"""Capture readers: bytes only. They yield `RecordChunk`s and record damage as `CaptureWarning`s."""
