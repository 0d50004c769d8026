"""Jobs and tasks as the API shows them, and what can be done with a job."""
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Union

from .errors import DroverError
from .results import download_file, download_results

if TYPE_CHECKING:
    from .client import Client

TERMINAL_STATUSES = ("done", "error", "canceled")
TaskRef = Union[int, str]  # a task's number in its job (1-based), or its id ("t_…")


@dataclass
class Task:
    id: str
    job_id: str
    index: int
    status: str
    input: str
    attempts: int
    agent: Optional[str]
    exit_code: Optional[int]
    error: Optional[str]
    data: Dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: Dict[str, Any]) -> "Task":
        return cls(id=data["id"], job_id=data["jobId"], index=data["index"], status=data["status"], input=data.get("input", ""),
                   attempts=data.get("attempts", 0), agent=data.get("agent"), exit_code=data.get("exitCode"),
                   error=data.get("error"), data=data)


@dataclass
class LogEntry:
    task: int  # the task's number in its job
    attempt: int
    stream: str  # "stdout", "stderr" or "system"
    data: str
    seq: int
    time: str


class Job:
    """A job on the farm. Attributes hold the last view fetched; `refresh()` fetches it again.
    `data` is the whole API view (`render`, `createdAt`, `durationMs`, … as in docs/api.md)."""

    def __init__(self, client: "Client", data: Dict[str, Any]) -> None:
        self._client = client
        self._set(data)

    def _set(self, data: Dict[str, Any]) -> None:
        self.data: Dict[str, Any] = data
        self.id: str = data["id"]
        self.name: str = data["name"]
        self.kind: str = data["kind"]
        self.status: str = data["status"]
        self.counts: Dict[str, int] = dict(data["counts"])
        self.task_count: int = data["taskCount"]

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.status} {self.counts}>"

    @property
    def url(self) -> str:
        """The job's page in the web app."""
        return f"{self._client.server}/#/jobs/{self.id}"

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def refresh(self) -> "Job":
        self._set(self._client._http.json("GET", f"/jobs/{self.id}"))
        return self

    def _act(self, action: str) -> "Job":
        self._set(self._client._http.json("POST", f"/jobs/{self.id}/{action}"))
        return self

    def start(self) -> "Job":
        """Queues a job created with run=False."""
        return self._act("start")

    def stop(self) -> "Job":
        """Cancels the job; running tasks are killed."""
        return self._act("stop")

    def retry(self) -> "Job":
        """Queues errored and canceled tasks again."""
        return self._act("retry")

    def wait(self, timeout: Optional[float] = None, poll: float = 1.0) -> str:
        """Waits until the job has ended and returns its final status ("done", "error" or
        "canceled"); raises DroverError("timeout") if `timeout` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.1
        while not self.refresh().ended:
            if deadline is not None and time.monotonic() >= deadline:
                raise DroverError("timeout", f"job {self.id} is still {self.status} after {timeout} s")
            pause = min(delay, poll) if deadline is None else max(0.0, min(delay, poll, deadline - time.monotonic()))
            time.sleep(pause)
            delay *= 2
        return self.status

    def tasks(self, status: Optional[str] = None) -> List[Task]:
        """Every task, in index order."""
        tasks: List[Task] = []
        while True:
            page = self._client._http.json("GET", f"/jobs/{self.id}/tasks", query={"offset": len(tasks), "limit": 1000, "status": status})
            tasks.extend(Task.from_api(t) for t in page["tasks"])
            if len(tasks) >= page["total"] or not page["tasks"]:
                return tasks

    def task(self, task: TaskRef) -> Task:
        if isinstance(task, str):
            found = Task.from_api(self._client._http.json("GET", f"/tasks/{task}"))
            if found.job_id != self.id:
                raise DroverError("not_found", f"task {task} is not a task of job {self.id}", 404)
            return found
        if task < 1:
            raise DroverError("not_found", f"job {self.id} has no task {task}: tasks are numbered from 1", 404)
        page = self._client._http.json("GET", f"/jobs/{self.id}/tasks", query={"offset": task - 1, "limit": 1})
        if not page["tasks"] or page["tasks"][0]["index"] != task:
            raise DroverError("not_found", f"job {self.id} has no task {task}", 404)
        return Task.from_api(page["tasks"][0])

    def log_entries(self, task: Optional[TaskRef] = None) -> Iterator[LogEntry]:
        """The log entries stored so far, task by task (or of one task)."""
        for t in [self.task(task)] if task is not None else self.tasks():
            after = 0
            while True:
                entries = self._client._http.json("GET", f"/tasks/{t.id}/logs", query={"after": after})["entries"]
                if not entries:
                    break
                for e in entries:
                    yield LogEntry(t.index, e["attempt"], e["stream"], e["data"], e["seq"], e["time"])
                after = entries[-1]["seq"]

    def logs(self, task: Optional[TaskRef] = None) -> str:
        """The log text so far: of one task, or of every task with a "[task N] " prefix per line."""
        entries = list(self.log_entries(task))
        if task is not None or self.task_count == 1:
            return "".join(e.data for e in entries)
        return "".join("".join(f"[task {e.task}] {line}" for line in e.data.splitlines(keepends=True)) for e in entries)

    def follow_logs(self, task: Optional[TaskRef] = None) -> Iterator[LogEntry]:
        """The live log as it is written: everything so far, then new entries until the task ends.
        Without `task`, follows every task in turn, in index order."""
        for t in [self.task(task)] if task is not None else self.tasks():
            for event, data in self._client._http.events(f"/tasks/{t.id}/logs/stream"):
                if event == "log":
                    yield LogEntry(t.index, data["attempt"], data["stream"], data["data"], data["seq"], data["time"])
                elif event == "end":
                    break

    def results(self) -> Dict[str, Any]:
        """The results index (docs/api.md `ResultsIndex`): every file with its path, sha256 and size."""
        return self._client._http.json("GET", f"/jobs/{self.id}/results")

    def download_file(self, sha256: str, target: str) -> None:
        """Downloads one file of the job's results to `target`, checked against its sha256."""
        download_file(self._client._http, self.id, sha256, target)

    def download_results(self, directory: str = ".") -> str:
        """Writes DIRECTORY/<job id>/ in the CLI's layout (index.json, task-0001/… or frames/…),
        checking each file's sha256; returns that folder."""
        return download_results(self._client._http, self.id, directory)
