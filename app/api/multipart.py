"""Stream the file part of a multipart/form-data request without buffering it (push parser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from app.errors import AppError


class BadUpload(AppError):
    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message, status_code)


@dataclass
class FilePart:
    """Filled while the body streams: the client's file name, once the file part's headers are read."""

    field_name: str
    filename: str | None = None
    found: bool = False
    _pending: list[bytes] = field(default_factory=list)
    _in_file: bool = False
    _headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    _field: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> dict[str, object]:
        def on_part_begin() -> None:
            self._headers.clear()
            self._in_file = False

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self._field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def on_header_end() -> None:
            self._headers.append((bytes(self._field).lower(), bytes(self._value)))
            self._field.clear()
            self._value.clear()

        def on_headers_finished() -> None:
            for name, value in self._headers:
                if name == b"content-disposition":
                    _, params = parse_options_header(value)
                    if params.get(b"name") == self.field_name.encode() and not self.found:
                        self._in_file = True
                        self.found = True
                        raw = params.get(b"filename")
                        self.filename = raw.decode("utf-8", "replace") if raw is not None else None

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if self._in_file:
                self._pending.append(data[start:end])

        def on_part_end() -> None:
            self._in_file = False

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        }


PART_HEADER_BYTES = 64 * 1024


def stream_file_part(request: Request, part: FilePart) -> AsyncIterator[bytes]:
    """The bytes of the multipart field `part.field_name`, as they arrive."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadUpload("send the capture as multipart/form-data with a 'file' field", 415)
    # Part headers up to 64 KB: a long client file name is shortened for display, not refused.
    parser = MultipartParser(
        params[b"boundary"],
        part.callbacks(),  # type: ignore[arg-type]
        max_header_size=PART_HEADER_BYTES,
    )

    async def chunks() -> AsyncIterator[bytes]:
        stream = request.stream()
        while True:
            try:
                body = await anext(stream)
            except StopAsyncIteration:
                break
            except ClientDisconnect:
                raise BadUpload("the upload was interrupted before it completed") from None
            if not body:
                continue
            try:
                parser.write(body)
            except ValueError as exc:  # python-multipart's parse errors are ValueErrors
                raise BadUpload(f"malformed multipart body: {exc}") from exc
            if part._pending:
                data = b"".join(part._pending)
                part._pending.clear()
                yield data
        parser.finalize()
        if not part.found:
            raise BadUpload(f"the form has no '{part.field_name}' file field")

    return chunks()
