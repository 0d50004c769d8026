"""The add-on's operators. Called from a script (`bpy.ops.drover.submit_render(frames="1-250",
chunk=5)`) they do their work before returning and raise (RuntimeError, Blender's way) with a
readable message when it fails; from the panel they work on a thread, with progress in the status
bar, and Esc or the panel's Cancel stops them."""
import os
import shutil
import tempfile
from typing import Any, Dict, List, Tuple

import bpy

from . import packing, work
from .prefs import preferences
from .sdk import DroverError

MOVIE_FORMATS = {"FFMPEG", "AVI_JPEG", "AVI_RAW"}


def _session() -> Tuple[str, str]:
    prefs = preferences()
    server = prefs.server.strip().rstrip("/")
    token = prefs.token.strip()
    if not server or not token:
        raise DroverError("not_signed_in", "no server or token")
    return server, token


def _redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type in {"PROPERTIES", "STATUSBAR"}:
                area.tag_redraw()


def _show_job(scene, view: Dict[str, Any]) -> None:
    settings = scene.drover
    settings.last_job_status = view["status"]
    render = view.get("render") or {}
    settings.frames_done = render.get("framesDone") or 0
    settings.frame_count = render.get("frameCount") or 0


def _apply_followed_jobs():
    """A timer: copies what the follow threads saw into the scenes showing those jobs."""
    changed = False
    for scene in bpy.data.scenes:
        view = work.job_views.get(scene.drover.last_job_id)
        if not view:
            continue
        frames_done = (view.get("render") or {}).get("framesDone") or 0
        if view["status"] != scene.drover.last_job_status or frames_done != scene.drover.frames_done:
            _show_job(scene, view)
            changed = True
    if changed:
        _redraw()
    return 1.0


class _FarmOperator:
    """Runs a work.Work here (exec) or on a thread with a modal timer (invoke)."""
    _timer = None
    _work: "work.Work"

    def begin(self, context) -> Any:
        raise NotImplementedError  # returns a work.Work, or raises DroverError

    def finish(self, context, result: Any) -> None:
        raise NotImplementedError

    def fail(self, err: BaseException) -> set:
        if isinstance(err, DroverError) and err.code == "canceled":
            self.report({"WARNING"}, "Drover: canceled (a canceled submission creates no job; frames already fetched stay)")
        elif isinstance(err, DroverError):
            server = preferences().server.strip()
            self.report({"ERROR"}, work.explain(err, server))
        else:
            self.report({"ERROR"}, f"Drover: {err}")
        return {"CANCELLED"}

    def execute(self, context):
        try:
            result = self.begin(context).run_here()
        except (DroverError, OSError, ValueError) as err:
            return self.fail(err)
        self.finish(context, result)
        return {"FINISHED"}

    def invoke(self, context, event):
        if work.busy():
            self.report({"WARNING"}, f"Drover is busy: {work.current.text}")  # type: ignore[union-attr]
            return {"CANCELLED"}
        try:
            self._work = self.begin(context)
        except (DroverError, OSError, ValueError) as err:
            return self.fail(err)
        self._work.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._work.cancel.set()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        wm = context.window_manager
        wm.progress_update(int(self._work.fraction * 1000))
        context.workspace.status_text_set(f"Drover: {self._work.text} (Esc cancels)")
        _redraw()
        if not self._work.done.is_set():
            return {"PASS_THROUGH"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)
        _redraw()
        if self._work.error is not None:
            return self.fail(self._work.error)
        self.finish(context, self._work.result)
        return {"FINISHED"}


class DROVER_OT_submit_render(_FarmOperator, bpy.types.Operator):
    """Pack the scene with every file it uses, upload what the farm lacks and render it on Drover"""
    bl_idname = "drover.submit_render"
    bl_label = "Submit to Drover"

    frames: bpy.props.StringProperty(name="Frames", description="Frame expression: 1-250, 1-250:5, 1,5,10-20 (default: the panel's range)")
    chunk: bpy.props.IntProperty(name="Chunk", description="Frames per task (default: the panel's)", min=1, default=1)
    priority: bpy.props.IntProperty(name="Priority", min=0, max=100, default=50)
    job_name: bpy.props.StringProperty(name="Job Name")
    allow_missing: bpy.props.BoolProperty(name="Submit With Missing Files", description="Submit even when files the scene uses are missing (they render as Blender renders missing files)", default=False)

    def _frames(self, scene) -> str:
        if self.frames.strip():
            return self.frames.strip()
        s = scene.drover
        start, end, step = (scene.frame_start, scene.frame_end, scene.frame_step) if s.use_scene_range else (s.frame_start, s.frame_end, 1)
        return f"{start}-{end}" + (f":{step}" if step > 1 else "")

    def begin(self, context):
        scene = context.scene
        settings = scene.drover
        if not bpy.data.filepath:
            raise DroverError("unsaved", "save the .blend first: Drover sends it with the files it uses, found relative to it")
        server, token = _session()
        deps = packing.collect()
        if deps.missing and not self.allow_missing:
            listed = "; ".join(f"{what}: {path}" for what, path in deps.missing)
            raise DroverError("missing_file", f"{len(deps.missing)} file(s) the scene uses are missing: {listed}")
        for what, path in deps.missing:
            self.report({"WARNING"}, f"Drover: missing {what}: {path}")
        for named in deps.library_absolute:
            self.report({"WARNING"}, f"Drover: the farm may not find {named} (an absolute path inside a linked library): make the library's paths relative")
        blend = os.path.normpath(os.path.abspath(bpy.data.filepath))
        root, layout = packing.project_layout(blend, deps.files)
        # The open file as it is now, with absolute paths made relative (the saved .blend itself
        # when it has neither unsaved changes nor absolute paths).
        source, stage = blend, None
        if bpy.data.is_dirty or deps.absolute:
            stage = tempfile.mkdtemp(prefix="drover-submit-")
            source = os.path.join(stage, os.path.basename(blend))
            try:
                left_absolute = packing.relative_copy(source)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
            for left in left_absolute:
                self.report({"WARNING"}, f"Drover: the farm cannot see {left} (an absolute path): make it relative (File > External Data > Make Paths Relative)")
        files: List[Tuple[str, str]] = [(source, layout[blend])] + [(f, layout[f]) for f in sorted(deps.files)]
        chunk = self.chunk if self.properties.is_property_set("chunk") else settings.chunk
        priority = self.priority if self.properties.is_property_set("priority") else (settings.priority if settings.use_priority else None)
        image_format = scene.render.image_settings.file_format
        spec: Dict[str, Any] = {
            "kind": "render",
            "name": self.job_name.strip() or settings.job_name.strip() or bpy.path.display_name_from_filepath(blend),
            "project": {"blend": layout[blend]},
            "frames": self._frames(scene),
            "chunk": chunk,
            "scene": scene.name,
            "fps": scene.render.fps / (scene.render.fps_base or 1.0),
            "start": True,
        }
        if image_format in MOVIE_FORMATS:
            self.report({"WARNING"}, f"Drover: the scene writes {image_format}, a movie format; the farm renders PNG frames")
            spec["format"] = "PNG"
        if priority is not None:
            spec["priority"] = priority  # only when set: the farm's default otherwise
        def run(progress, cancel):
            try:
                return work.submit(server, token, files, spec, progress, cancel)
            finally:
                if stage is not None:  # the copy has been sent (or never will be)
                    shutil.rmtree(stage, ignore_errors=True)

        return work.Work("Submitting", run)

    def finish(self, context, result):
        settings = context.scene.drover
        job = result["job"]
        settings.last_job_id = job["id"]
        settings.last_job_url = result["url"]
        settings.last_uploaded_files = result["sent"]
        settings.last_project_files = result["files"]
        _show_job(context.scene, job)
        if not bpy.app.background:
            server, token = _session()
            work.follow(server, token, job["id"])
        self.report({"INFO"}, f"Drover: job {job['id']} submitted ({job['taskCount']} tasks; uploaded {result['sent']} of {result['files']} files)")


class DROVER_OT_fetch_frames(_FarmOperator, bpy.types.Operator):
    """Download the job's finished frames (beside the .blend unless you choose a folder)"""
    bl_idname = "drover.fetch_frames"
    bl_label = "Fetch Frames"

    job_id: bpy.props.StringProperty(name="Job", description="Default: the last job submitted from this scene")
    directory: bpy.props.StringProperty(name="Folder", subtype="DIR_PATH")

    def begin(self, context):
        server, token = _session()
        settings = context.scene.drover
        job_id = self.job_id.strip() or settings.last_job_id
        if not job_id:
            raise DroverError("no_job", "no job to fetch frames from: submit one first")
        chosen = self.directory.strip() or settings.frames_dir.strip()
        if not chosen and not bpy.data.filepath:
            raise DroverError("unsaved", "choose a folder for the frames (the .blend is not saved, so there is no folder beside it)")
        directory = os.path.normpath(bpy.path.abspath(chosen or f"//drover-{job_id}"))
        return work.Work("Fetching frames", lambda progress, cancel: work.fetch_frames(server, token, job_id, directory, progress, cancel))

    def finish(self, context, result):
        context.scene.drover.last_fetch_dir = result["directory"]
        self.report({"INFO"}, f"Drover: {result['frames']} frame(s) in {result['directory']}")


class DROVER_OT_refresh_job(bpy.types.Operator):
    """Ask the farm how the last job is doing"""
    bl_idname = "drover.refresh_job"
    bl_label = "Refresh"

    def execute(self, context):
        from .sdk import Client
        settings = context.scene.drover
        if not settings.last_job_id:
            return {"CANCELLED"}
        try:
            server, token = _session()
            _show_job(context.scene, Client(server=server, token=token).job(settings.last_job_id).data)
        except DroverError as err:
            self.report({"ERROR"}, work.explain(err, preferences().server))
            return {"CANCELLED"}
        return {"FINISHED"}


class DROVER_OT_cancel(bpy.types.Operator):
    """Stop the upload or download under way"""
    bl_idname = "drover.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        if work.current is not None:
            work.current.cancel.set()
        return {"FINISHED"}


class DROVER_OT_open_job_page(bpy.types.Operator):
    """Open the job's page in the Drover web app"""
    bl_idname = "drover.open_job_page"
    bl_label = "Open Job Page"

    def execute(self, context):
        url = context.scene.drover.last_job_url
        if not url:
            return {"CANCELLED"}
        bpy.ops.wm.url_open(url=url)
        return {"FINISHED"}


classes = (DROVER_OT_submit_render, DROVER_OT_fetch_frames, DROVER_OT_refresh_job, DROVER_OT_cancel, DROVER_OT_open_job_page)


def register_timer() -> None:
    if not bpy.app.background and not bpy.app.timers.is_registered(_apply_followed_jobs):
        bpy.app.timers.register(_apply_followed_jobs, first_interval=1.0, persistent=True)


def unregister_timer() -> None:
    if bpy.app.timers.is_registered(_apply_followed_jobs):
        bpy.app.timers.unregister(_apply_followed_jobs)
