"""Content-addressed upload, the protocol the CLI speaks: hash every file, ask the coordinator
which hashes it lacks (`POST /blobs/missing`), send only those (`PUT /blobs/:sha256`). A file the
farm already has is never sent again."""
import hashlib
import io
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO, Callable, List, Optional, Sequence, Union

from .errors import DroverError
from .transport import Http

CHUNK = 1024 * 1024

#: Called with (bytes sent, bytes to send) as an upload goes.
Progress = Callable[[int, int], None]


@dataclass
class Source:
    """One file for a job: `name` is its name (or project path) there; the bytes come from
    `path` on disk or from `data` in memory."""
    name: str
    path: Optional[str] = None
    data: Optional[bytes] = None
    size: int = 0
    sha256: str = ""

    def open(self) -> BinaryIO:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data or b"")


def from_path(name: str, path: Union[str, "os.PathLike[str]"]) -> Source:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DroverError("missing_file", f"{path} does not exist")
    if not os.path.isfile(path):
        raise DroverError("missing_file", f"{path} is not a file")
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return Source(name=name, path=path, size=size, sha256=digest.hexdigest())


def from_value(name: str, value: Union[str, bytes]) -> Source:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray)):
        raise DroverError("invalid_request", f"the content of {name} must be str or bytes, not {type(value).__name__}")
    data = bytes(value)
    return Source(name=name, data=data, size=len(data), sha256=hashlib.sha256(data).hexdigest())


class _Metered(io.RawIOBase):
    """A file that counts what http.client reads from it, and stops when the upload is canceled."""

    def __init__(self, inner: BinaryIO, on_read: Callable[[int], None], cancel: Optional[threading.Event]) -> None:
        self.inner, self.on_read, self.cancel = inner, on_read, cancel

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise DroverError("canceled", "the upload was canceled")
        chunk = self.inner.read(CHUNK if size is None or size < 0 else min(size, CHUNK))
        self.on_read(len(chunk))
        return chunk


def upload(http: Http, sources: Sequence[Source], progress: Optional[Progress] = None,
           cancel: Optional[threading.Event] = None) -> List[Source]:
    """Uploads the sources the coordinator lacks; returns those it sent."""
    hashes = sorted({s.sha256 for s in sources})
    missing = set(http.json("POST", "/blobs/missing", {"hashes": hashes})["missing"]) if hashes else set()
    to_send: List[Source] = []
    for s in sources:
        if s.sha256 in missing:
            missing.discard(s.sha256)
            to_send.append(s)
    total = sum(s.size for s in to_send)
    sent = 0

    def counted(n: int) -> None:
        nonlocal sent
        sent += n
        if progress is not None:
            progress(sent, total)

    if progress is not None:
        progress(0, total)
    for s in to_send:
        with s.open() as f:
            body = _Metered(f, counted, cancel)
            # The size up front lets the coordinator refuse a file it has no room for before it is sent.
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(s.size)}
            http.open("PUT", f"/blobs/{s.sha256}", body, headers).close()  # type: ignore[arg-type]
    return to_send
