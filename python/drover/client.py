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


def _read_template(path: str) -> Tuple[str, str, Optional[str]]:
    """The template's text, its folder, and a bundle's parameter values text (or None)."""
    def first(folder: str, names: Sequence[str]) -> Optional[str]:
        return next((os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))), None)
    if os.path.isdir(path):
        template = first(path, ("template.yaml", "template.yml", "template.json"))
        if template is None:
            raise DroverError("missing_file", f"{path} is a folder without template.yaml or template.json: not a job bundle")
        values = first(path, ("parameter_values.yaml", "parameter_values.yml", "parameter_values.json"))
        with open(template, encoding="utf-8") as f:
            text = f.read()
        values_text = None
        if values is not None:
            with open(values, encoding="utf-8") as f:
                values_text = f.read()
        return text, os.path.abspath(path), values_text
    if not os.path.isfile(path):
        raise DroverError("missing_file", f"{path} does not exist")
    with open(path, encoding="utf-8") as f:
        return f.read(), os.path.dirname(os.path.abspath(path)), None


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
                      priority: Optional[int] = None, run: bool = True, network: Optional[bool] = None,
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
            **_optional(image=image, maxAttempts=max_attempts, taskTimeoutSeconds=timeout, priority=priority, network=network),
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

    def submit_template(self, path: PathLike, params: Optional[Mapping[str, Union[str, int, float, bool]]] = None, *,
                        instance_type: str = "s", image: Optional[str] = None, max_attempts: Optional[int] = None,
                        timeout: Optional[int] = None, priority: Optional[int] = None, network: Optional[bool] = None,
                        run: bool = True, progress: Optional[Progress] = None) -> Job:
        """A job from an Open Job Description template (a .yaml/.yml/.json file) or a job bundle
        folder (template.yaml|json and optional parameter_values.yaml|json). `params` wins over the
        bundle's values. The content of PATH parameters with dataFlow IN/INOUT is uploaded: a
        relative value given in `params` is taken from the current folder, a bundle value or a
        default from the template's folder."""
        if instance_type not in INSTANCE_TYPES:
            raise DroverError("invalid_request", f"instance_type must be one of {', '.join(INSTANCE_TYPES)}, not {instance_type!r}")
        text, folder, values_text = _read_template(os.fspath(path))
        given: Dict[str, Any] = dict(params or {})
        base = {"template": text, **({"parameterValues": values_text} if values_text is not None else {})}
        checked = self._signed_in().json("POST", "/templates/check", {**base, "parameters": given})
        files: Dict[str, List[Dict[str, str]]] = {}
        sources: List[Tuple[str, Source]] = []
        for d in checked["parameterDefinitions"]:
            if d.get("type") != "PATH":
                continue
            name = d["name"]
            raw = checked["parameters"].get(name)
            if raw is None or raw == "" or "://" in str(raw):
                continue
            local = os.path.join(os.getcwd() if name in given else folder, str(raw))
            given[name] = os.path.abspath(local)
            if d.get("dataFlow") not in ("IN", "INOUT"):
                continue
            files[name] = []
            if os.path.isfile(local):
                sources.append((name, from_path(os.path.basename(local), local)))
            elif os.path.isdir(local):
                for root, _dirs, names in os.walk(local):
                    for n in sorted(names):
                        full = os.path.join(root, n)
                        if os.path.isfile(full) and not os.path.islink(full):
                            sources.append((name, from_path(os.path.relpath(full, local).replace(os.sep, "/"), full)))
            elif d.get("dataFlow") == "IN":
                raise DroverError("missing_file", f"parameter {name} is an input (dataFlow IN), but {local} does not exist")
        if sources:
            self.upload([s for _, s in sources], progress)
        for name, source in sources:
            files[name].append({"path": source.name, "sha256": source.sha256})
        return self.create_job({
            "kind": "template", **base, "parameters": given, **({"files": files} if files else {}),
            "instanceType": instance_type, "start": run,
            **_optional(image=image, maxAttempts=max_attempts, taskTimeoutSeconds=timeout, priority=priority, network=network),
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
