"""The entry point: a signed-in connection to a Drover coordinator."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .blobs import Progress, Source, from_path, from_value, upload
from .config import resolve_session
from .errors import DroverError
from .jobs import Job
from .project import list_project
from .transport import Http

PathLike = Union[str, "os.PathLike[str]"]
#: Files for a job: paths on disk, or file name → content (str or bytes) for files made in Python.
Files = Union[Sequence[PathLike], Mapping[str, Union[str, bytes]]]

INSTANCE_TYPES = ("s", "m", "l", "xl")


def _sources(files: Files, what: str) -> List[Source]:
    if isinstance(files, (str, bytes, os.PathLike)):
        raise DroverError("invalid_request", f"{what} must be a list of paths or a mapping of file name to content, not a single {type(files).__name__}")
    if isinstance(files, Mapping):
        return [from_value(str(name), content) for name, content in files.items()]
    return [from_path(os.path.basename(os.fspath(p)), p) for p in files]


def _script_source(script: Union[PathLike, Mapping[str, Union[str, bytes]]]) -> Source:
    if isinstance(script, Mapping):
        if len(script) != 1:
            raise DroverError("invalid_request", "script= as a mapping holds exactly one file name → content")
        (name, content), = script.items()
        return from_value(str(name), content)
    return from_path(os.path.basename(os.fspath(script)), script)


def _optional(**fields: Any) -> Dict[str, Any]:
    """The fields that were given: the API applies its own defaults to the rest."""
    return {k: v for k, v in fields.items() if v is not None}


def scene_frames(blend: str, scene: Optional[str] = None) -> str:
    """The scene's frame range as a frame expression, read by running Blender on the file."""
    blender = os.environ.get("DROVER_BLENDER") or shutil.which("blender")
    if not blender:
        raise DroverError("frames_required", "Blender is not installed here, so the scene's frame range cannot be read: give frames=")
    with tempfile.TemporaryDirectory(prefix="drover-scene-") as tmp:
        out = os.path.join(tmp, "frames.json")
        expr = ("import bpy, json, sys; s = bpy.data.scenes[%r] if %r else bpy.context.scene; "
                "json.dump([s.frame_start, s.frame_end, s.frame_step], open(%r, 'w'))") % (scene or "", bool(scene), out)
        done = subprocess.run([blender, "-b", blend, "--factory-startup", "-noaudio", "--python-exit-code", "1", "--python-expr", expr],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0 or not os.path.exists(out):
            raise DroverError("bad_project", f"Blender could not read the frame range of {blend}: {done.stdout.strip()[-500:]}")
        with open(out, encoding="utf-8") as f:
            start, end, step = json.load(f)
    return f"{start}-{end}" + (f":{step}" if step > 1 else "")


class Client:
    """A connection to a coordinator. With neither `server` nor `token`, both come from the
    `drover` CLI's session (`DROVER_SERVER` / `DROVER_TOKEN`, then `DROVER_CONFIG` or
    ~/.config/drover/config.json, as written by `drover login`)."""

    def __init__(self, server: Optional[str] = None, token: Optional[str] = None, timeout: float = 60.0) -> None:
        url, tok = resolve_session(server, token)
        self._http = Http(url, tok, timeout)

    @property
    def server(self) -> str:
        return self._http.server

    @property
    def token(self) -> Optional[str]:
        return self._http.token

    def login(self, username: str, password: str) -> str:
        """Signs in and keeps the new API token for this client; returns the token."""
        self._http.token = None
        answer = self._http.json("POST", "/auth/login", {"username": username, "password": password})
        self._http.token = answer["token"]
        return answer["token"]

    def me(self) -> Dict[str, Any]:
        """The signed-in user: {id, name, admin, createdAt}."""
        return self._signed_in().json("GET", "/auth/me")

    def _signed_in(self) -> Http:
        if not self._http.token:
            raise DroverError("not_signed_in", "not signed in: run `drover login`, or pass token= (or set DROVER_TOKEN)")
        return self._http

    def upload(self, sources: Sequence[Source], progress: Optional[Progress] = None, cancel: Optional[threading.Event] = None) -> List[Source]:
        """Sends the files the coordinator lacks (see drover.blobs); returns those sent."""
        return upload(self._signed_in(), sources, progress, cancel)

    def create_job(self, spec: Dict[str, Any]) -> Job:
        """POST /jobs with a ScriptJobSpec or RenderJobSpec (docs/api.md) whose files are uploaded."""
        return Job(self, self._signed_in().json("POST", "/jobs", spec))

    def submit_script(self, name: str, script: Union[PathLike, Mapping[str, Union[str, bytes]]], inputs: Files,
                      constants: Files = (), instance_type: str = "s", image: Optional[str] = None,
                      max_attempts: Optional[int] = None, timeout: Optional[int] = None,
                      priority: Optional[int] = None, run: bool = True, network: bool = False,
                      progress: Optional[Progress] = None) -> Job:
        """A script job: one task per input, in the order given. `script`, `inputs` and
        `constants` are paths, or file name → content mappings for files made in Python.
        `timeout` is each task's limit in seconds. With run=False the job waits for `job.start()`."""
        if instance_type not in INSTANCE_TYPES:
            raise DroverError("invalid_request", f"instance_type must be one of {', '.join(INSTANCE_TYPES)}, not {instance_type!r}")
        script_file = _script_source(script)
        constant_files = _sources(constants, "constants")
        input_files = _sources(inputs, "inputs")
        if not input_files:
            raise DroverError("invalid_request", "a script job needs at least one input (one task each)")
        self.upload([script_file, *constant_files, *input_files], progress)
        ref = lambda s: {"name": s.name, "sha256": s.sha256}  # noqa: E731
        return self.create_job({
            "kind": "script", "name": name, "script": ref(script_file),
            "constants": [ref(s) for s in constant_files], "inputs": [ref(s) for s in input_files],
            "instanceType": instance_type, "start": run,
            **({"network": True} if network else {}),
            **_optional(image=image, maxAttempts=max_attempts, taskTimeoutSeconds=timeout, priority=priority),
        })

    def submit_render(self, project: PathLike, frames: Optional[str] = None, chunk: int = 1, *, blend: Optional[str] = None,
                      name: Optional[str] = None, scene: Optional[str] = None, format: Optional[str] = None,
                      samples: Optional[int] = None, resolution: Optional[Tuple[int, int]] = None,
                      percentage: Optional[int] = None, instance_type: str = "s", image: Optional[str] = None,
                      max_attempts: Optional[int] = None, timeout: Optional[int] = None, priority: Optional[int] = None,
                      cold: bool = False, run: bool = True, progress: Optional[Progress] = None) -> Job:
        """A render job of a .blend file or a project folder (the .blend and the files it uses,
        by relative path). `frames` is a frame expression ("1-250", "1-250:5", "1,5,10-20"); by
        default the scene's range, read with Blender. `chunk` frames per task."""
        if instance_type not in INSTANCE_TYPES:
            raise DroverError("invalid_request", f"instance_type must be one of {', '.join(INSTANCE_TYPES)}, not {instance_type!r}")
        files, blend_path = list_project(os.fspath(project), blend)
        if frames is None:
            frames = scene_frames(next(f.path for f in files if f.name == blend_path) or "", scene)
        self.upload(files, progress)
        return self.create_job({
            "kind": "render", "name": name or os.path.splitext(os.path.basename(blend_path))[0],
            "project": {"files": [{"path": f.name, "sha256": f.sha256} for f in files], "blend": blend_path},
            "frames": str(frames), "chunk": chunk, "instanceType": instance_type, "start": run, "cold": cold,
            **_optional(scene=scene, format=format.upper() if format else None, samples=samples,
                        resolution={"width": resolution[0], "height": resolution[1]} if resolution else None,
                        percentage=percentage, image=image, maxAttempts=max_attempts, taskTimeoutSeconds=timeout,
                        priority=priority),
        })

    def jobs(self, status: Optional[str] = None, limit: int = 1000) -> List[Job]:
        """Your jobs (an admin's: everyone's), newest first."""
        jobs: List[Job] = []
        while len(jobs) < limit:
            page = self._signed_in().json("GET", "/jobs", query={"status": status, "offset": len(jobs), "limit": min(200, limit - len(jobs))})
            jobs.extend(Job(self, j) for j in page["jobs"])
            if not page["jobs"] or len(jobs) >= page["total"]:
                break
        return jobs

    def job(self, job_id: str) -> Job:
        return Job(self, self._signed_in().json("GET", f"/jobs/{job_id}"))
