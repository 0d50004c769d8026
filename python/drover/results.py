"""Downloading a job's results in the CLI's layout (`DIR/<job id>/…`, see the README's "Results
layout"), every file checked against its sha256 and written whole or not at all."""
import hashlib
import json
import os
from typing import Any, Dict

from .errors import DroverError
from .transport import Http

CHUNK = 1024 * 1024


def _safe_parts(path: str) -> list:
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or "\0" in path or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]:
        raise DroverError("invalid_request", f"refusing to write a result outside the results folder: {path!r}")
    return parts


def download_file(http: Http, job_id: str, sha256: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    part = target + ".part"
    digest = hashlib.sha256()
    with http.open("GET", f"/jobs/{job_id}/files/{sha256}", timeout=None) as res, open(part, "wb") as out:
        for chunk in iter(lambda: res.read(CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    actual = digest.hexdigest()
    if actual != sha256:
        os.remove(part)
        raise DroverError("corrupted", f"{target} arrived corrupted (sha256 {actual}, expected {sha256})")
    os.replace(part, target)


def download_results(http: Http, job_id: str, directory: str) -> str:
    """Writes DIRECTORY/<job id>/ and returns that folder."""
    index: Dict[str, Any] = http.json("GET", f"/jobs/{job_id}/results")
    root = os.path.join(os.path.abspath(os.fspath(directory)), job_id)
    for file in index["files"]:
        download_file(http, job_id, file["sha256"], os.path.join(root, *_safe_parts(file["path"])))
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
    return root
