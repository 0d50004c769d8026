"""Drover's Python SDK: submit script and render jobs to a Drover farm, follow them, and
download their results, over the coordinator's public HTTP API.

    import drover
    client = drover.Client()                       # the `drover login` session
    job = client.submit_script(name="squares", script={"sq.py": "..."}, inputs={"n1.txt": "1"})
    job.wait()
"""
from .blobs import Source
from .client import Client
from .errors import DroverError
from .jobs import Job, LogEntry, Task

__version__ = "0.1.0"
__all__ = ["Client", "DroverError", "Job", "LogEntry", "Source", "Task", "__version__"]
