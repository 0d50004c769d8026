"""The one exception the SDK raises: what the coordinator said (its `code` and `message`), or why
it could not be asked."""
from typing import Optional


class DroverError(Exception):
    """An error from Drover. `code` is the API's error code (``not_found``, ``unauthorized``,
    ``invalid_request``…) or one of the SDK's own: ``unreachable`` (no answer from the coordinator),
    ``not_signed_in``, ``missing_file``, ``corrupted`` (a download did not match its sha256),
    ``timeout``, ``canceled``, ``bad_project``, ``frames_required``. `status` is the HTTP status when
    there was one."""

    def __init__(self, code: str, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DroverError(code={self.code!r}, message={self.message!r}, status={self.status!r})"
