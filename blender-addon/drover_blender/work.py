"""Farm work that must not freeze Blender: hashing, uploading, creating the job, fetching frames,
following the job. Each piece is a plain function of (progress, cancel) without bpy, so it runs
on a thread while the interface stays live, or directly when a script calls the operator."""
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .sdk import Client, DroverError
from .sdk.blobs import from_path

Progress = Callable[[str, float], None]


def explain(err: DroverError, server: str) -> str:
    """A sentence an artist can act on."""
    if err.code == "unreachable":
        return f"Cannot reach the Drover farm at {server}: is it running, and is the server right in the Drover add-on's preferences?"
    if err.code == "unauthorized":
        return "The Drover farm refused the token: sign in again (Edit > Preferences > Add-ons > Drover)"
    if err.code == "not_signed_in":
        return "Not signed in to Drover: Sign In in the add-on's preferences (Edit > Preferences > Add-ons > Drover)"
    if err.code == "canceled":
        return "Canceled"
    return f"Drover: {err.message}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class Work:
    """One piece of work, its progress and its end; at most one runs at a time (`current`)."""

    def __init__(self, label: str, fn: Callable[[Progress, threading.Event], Any]) -> None:
        self.label = label
        self.fn = fn
        self.cancel = threading.Event()
        self.text = label
        self.fraction = 0.0
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.thread: Optional[threading.Thread] = None

    def progress(self, text: str, fraction: float) -> None:
        self.text, self.fraction = text, max(0.0, min(1.0, fraction))

    def _run(self) -> None:
        try:
            self.result = self.fn(self.progress, self.cancel)
        except BaseException as err:  # handed to the main thread, which reports it
            self.error = err
        finally:
            self.done.set()

    def run_here(self) -> Any:
        self._run()
        if self.error is not None:
            raise self.error
        return self.result

    def start(self) -> None:
        global current
        current = self
        self.thread = threading.Thread(target=self._run, name=f"drover: {self.label}", daemon=True)
        self.thread.start()


current: Optional[Work] = None


def busy() -> bool:
    return current is not None and not current.done.is_set()


def submit(server: str, token: str, files: List[Tuple[str, str]], spec: Dict[str, Any], progress: Progress,
           cancel: threading.Event) -> Dict[str, Any]:
    """Hashes the project files ((local path, project path) pairs), uploads what the farm lacks
    and creates the render job described by `spec` (without its project files)."""
    client = Client(server=server, token=token)
    sources = []
    total = sum(os.path.getsize(local) for local, _ in files) or 1
    hashed = 0
    for local, path in files:
        if cancel.is_set():
            raise DroverError("canceled", "canceled")
        progress(f"Reading {os.path.basename(local)}", 0.2 * hashed / total)
        sources.append(from_path(path, local))
        hashed += sources[-1].size
    client.me()  # a wrong token or server is said now, not after a long upload
    sent = client.upload(sources, lambda done, todo: progress(f"Uploading {human_bytes(done)} of {human_bytes(todo)}", 0.2 + 0.75 * done / max(todo, 1)), cancel)
    progress("Creating the job", 0.97)
    job = client.create_job({**spec, "project": {"files": [{"path": s.name, "sha256": s.sha256} for s in sources], "blend": spec["project"]["blend"]}})
    return {"job": job.data, "url": job.url, "sent": len(sent), "files": len(sources)}


def fetch_frames(server: str, token: str, job_id: str, directory: str, progress: Progress, cancel: threading.Event) -> Dict[str, Any]:
    """Downloads the job's finished frames into `directory` (flat, named as Blender named them),
    each checked against its sha256; a frame already there with the right content is kept."""
    job = Client(server=server, token=token).job(job_id)
    index = job.results()
    frames = [f for f in index["files"] if f["path"].startswith("frames/") and "/" not in f["path"][len("frames/"):]]
    os.makedirs(directory, exist_ok=True)
    for i, f in enumerate(frames):
        if cancel.is_set():
            raise DroverError("canceled", "canceled")
        name = f["path"][len("frames/"):]
        progress(f"Fetching {name} ({i + 1}/{len(frames)})", i / max(len(frames), 1))
        job.download_file(f["sha256"], os.path.join(directory, name))
    return {"frames": len(frames), "directory": directory, "status": index["status"]}


# Following jobs: a thread per followed job stores its latest view; the panel reads them.
job_views: Dict[str, Dict[str, Any]] = {}
_followed: Dict[str, threading.Event] = {}


def follow(server: str, token: str, job_id: str) -> None:
    if job_id in _followed:
        return
    stop = threading.Event()
    _followed[job_id] = stop

    def loop() -> None:
        client = Client(server=server, token=token)
        while not stop.is_set():
            try:
                job = client.job(job_id)
                job_views[job_id] = job.data
                if job.ended:
                    break
            except DroverError:
                pass  # the farm may be restarting: keep trying
            stop.wait(2.0)
        _followed.pop(job_id, None)

    threading.Thread(target=loop, name=f"drover: follow {job_id}", daemon=True).start()


def stop_all() -> None:
    for stop in list(_followed.values()):
        stop.set()
    if current is not None:
        current.cancel.set()
