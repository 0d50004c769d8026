"""JSON over HTTP to the coordinator's public API (`/api/v1`), with its errors turned into
DroverError. urllib only, so the SDK installs anywhere Python does (Blender's Python included)."""
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO, Dict, Iterator, Optional, Tuple, Union

from .errors import DroverError

Body = Union[bytes, BinaryIO, None]


class Http:
    def __init__(self, server: str, token: Optional[str], timeout: float = 60.0) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def url(self, path: str) -> str:
        return f"{self.server}/api/v1{path}"

    def open(self, method: str, path: str, body: Body = None, headers: Optional[Dict[str, str]] = None,
             timeout: Optional[float] = None) -> Any:
        """Sends one request and returns the open response (2xx only); any other answer raises."""
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=all_headers)
        try:
            return urllib.request.urlopen(request, timeout=timeout if timeout is not None else self.timeout)
        except urllib.error.HTTPError as err:
            raise api_error(err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DroverError("unreachable", f"cannot reach the Drover coordinator at {self.server}: {reason}") from None

    def json(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None) -> Any:
        if query:
            kept = {k: v for k, v in query.items() if v is not None}
            if kept:
                path = f"{path}?{urllib.parse.urlencode(kept)}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self.open(method, path, data, headers) as res:
            text = res.read()
        return json.loads(text) if text else None

    def events(self, path: str) -> Iterator[Tuple[str, Any]]:
        """Server-sent events from `path` as (event, parsed data), until the server ends the stream."""
        with self.open("GET", path, headers={"Accept": "text/event-stream"}, timeout=None) as res:
            event, data = "message", []
            for raw in res:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if data:
                        yield event, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith(":"):
                    continue  # keep-alive comment
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)


def api_error(status: int, body: bytes) -> DroverError:
    """The API's `{"error": {"code", "message"}}`, or a plain description when the body is not that."""
    try:
        err = json.loads(body.decode("utf-8")).get("error") or {}
        return DroverError(str(err.get("code") or f"http_{status}"), str(err.get("message") or f"HTTP {status}"), status)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return DroverError(f"http_{status}", f"the coordinator answered HTTP {status}", status)
