"""The Blender add-on, driven inside real Blender by test/e2e/blender-addon.test.ts:

    blender -b --factory-startup -noaudio --python addon_checks.py -- '{"phase": "submit", ...}'

The "gui" phase runs Blender with its interface (under Xvfb) and drives the panel's path: the
operator invoked as a click does, working on a thread while Blender's own timers keep running,
Cancel pressed mid-upload, the job followed until the panel shows it done.

Each phase writes what it saw to OPTIONS["report"] (JSON); the Node test makes the assertions
about the farm and the pixels, this script those only Blender can see (raised errors, properties).
"""
import json
import os
import sys
import traceback

import bpy

OPT = json.loads(sys.argv[sys.argv.index("--") + 1])
report = {}


def prefs():
    return bpy.context.preferences.addons["drover_blender"].preferences


def error_of(call) -> str:
    """The message a failing operator gives a script (Blender raises RuntimeError with its report)."""
    try:
        result = call()
    except RuntimeError as err:
        return str(err)
    raise AssertionError(f"expected an error, the operator returned {result}")


def install() -> None:
    bpy.ops.preferences.addon_install(filepath=OPT["zip"], overwrite=True)
    bpy.ops.preferences.addon_enable(module="drover_blender")
    prefs().server = OPT["server"]


def phase_submit() -> None:
    install()
    report["wrong_password"] = error_of(lambda: bpy.ops.drover.sign_in(username=OPT["username"], password="not-the-password"))
    assert bpy.ops.drover.sign_in(username=OPT["username"], password=OPT["password"]) == {"FINISHED"}
    token = prefs().token
    report["token"] = token
    # Only the token is kept: no property of the preferences holds the password.
    report["password_kept"] = any(getattr(prefs(), p.identifier, None) == OPT["password"] for p in prefs().bl_rna.properties)

    report["unsaved"] = error_of(lambda: bpy.ops.drover.submit_render(frames="1-2"))

    bpy.ops.wm.open_mainfile(filepath=OPT["missing"])
    report["missing_texture"] = error_of(lambda: bpy.ops.drover.submit_render(frames="1-2"))

    bpy.ops.wm.open_mainfile(filepath=OPT["main"])
    prefs().token = "not-a-valid-token"
    report["wrong_token"] = error_of(lambda: bpy.ops.drover.submit_render(frames="1-2"))
    prefs().token = token
    prefs().server = "http://127.0.0.1:9"
    report["unreachable"] = error_of(lambda: bpy.ops.drover.submit_render(frames="1-2"))
    prefs().server = OPT["server"]

    image_paths_before = sorted(i.filepath for i in bpy.data.images)
    report["result"] = sorted(bpy.ops.drover.submit_render(frames="1-2", chunk=1, priority=80))
    s = bpy.context.scene.drover
    report["job_id"] = s.last_job_id
    report["job_url"] = s.last_job_url
    report["status"] = s.last_job_status
    report["uploaded"] = [s.last_uploaded_files, s.last_project_files]
    # The artist's file keeps its paths (the absolute one included).
    report["paths_kept"] = sorted(i.filepath for i in bpy.data.images) == image_paths_before

    # The same scene again: only what the farm lacks is uploaded (nothing, the copy sent is the same).
    bpy.ops.drover.submit_render(frames="1-2", chunk=2, job_name="again")
    report["again"] = {"job_id": s.last_job_id, "uploaded": [s.last_uploaded_files, s.last_project_files]}


def phase_fetch() -> None:
    install()
    prefs().token = OPT["token"]
    bpy.ops.wm.open_mainfile(filepath=OPT["main"])
    s = bpy.context.scene.drover
    s.last_job_id = OPT["job_id"]
    assert bpy.ops.drover.refresh_job() == {"FINISHED"}
    report["status"] = s.last_job_status
    report["frames"] = [s.frames_done, s.frame_count]
    assert bpy.ops.drover.fetch_frames(directory=OPT["out"]) == {"FINISHED"}
    assert bpy.ops.drover.fetch_frames() == {"FINISHED"}  # default: beside the .blend
    report["default_dir"] = s.last_fetch_dir


def phase_packing() -> None:
    """What packing.collect() finds in a scene using many kinds of files, some missing."""
    import shutil
    import wave

    from drover_blender import packing

    root = OPT["dir"]
    project = os.path.join(root, "project")
    elsewhere = os.path.join(root, "elsewhere")
    for d in (project, os.path.join(project, "seq"), os.path.join(project, "udim"), os.path.join(project, "cache"), elsewhere):
        os.makedirs(d, exist_ok=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))

    def png(path):
        img = bpy.data.images.new("tmp", 4, 4)
        img.filepath_raw = path
        img.file_format = "PNG"
        img.save()
        bpy.data.images.remove(img)

    for i in (1, 2, 3):
        png(os.path.join(project, "seq", f"render_{i:04d}.png"))
    png(os.path.join(project, "seq", "other_0001.png"))  # not of the sequence
    seq = bpy.data.images.load(os.path.join(project, "seq", "render_0001.png"))
    seq.source = "SEQUENCE"
    seq.filepath = "//seq/render_0001.png"
    for tile in (1001, 1002):
        png(os.path.join(project, "udim", f"wood.{tile}.png"))
    udim = bpy.data.images.load(os.path.join(project, "udim", "wood.1001.png"))
    udim.source = "TILED"
    udim.filepath = "//udim/wood.<UDIM>.png"
    sound_path = os.path.join(elsewhere, "beep.wav")
    with wave.open(sound_path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    bpy.data.sounds.load(sound_path).use_fake_user = True  # absolute, outside the project
    font_path = os.path.join(elsewhere, "Serif.ttf")
    shutil.copy("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", font_path)
    bpy.data.fonts.load(font_path).use_fake_user = True
    # A disk cache folder (fluid domains and point caches name folders).
    for name in ("a.bphys", "b.bphys"):
        open(os.path.join(project, "cache", name), "wb").write(b"cache")
    bpy.ops.mesh.primitive_cube_add()
    cloth = bpy.context.active_object.modifiers.new("Cloth", "CLOTH")
    cloth.point_cache.use_disk_cache = True
    cloth.point_cache.use_external = True
    cloth.point_cache.filepath = "//cache"
    gone = bpy.data.images.load(os.path.join(project, "seq", "other_0001.png"))
    gone.name = "Gone"
    gone.filepath = "//textures/gone.png"

    deps = packing.collect()
    blend = bpy.data.filepath
    root_dir, layout = packing.project_layout(blend, deps.files)
    report["files"] = sorted(layout[f] for f in deps.files)
    report["blend"] = layout[os.path.normpath(blend)]
    report["root"] = root_dir
    report["missing"] = deps.missing
    report["absolute"] = deps.absolute
    copy = os.path.join(root, "copy", "shot.blend")
    os.makedirs(os.path.dirname(copy))
    report["left_absolute"] = packing.relative_copy(copy)
    report["paths_after_copy"] = sorted([s.filepath for s in bpy.data.sounds] + [f.filepath for f in bpy.data.fonts if f.filepath != "<builtin>"])
    # The copy, as the farm gets it: its paths are relative to the .blend.
    bpy.ops.wm.open_mainfile(filepath=copy)
    report["copy_paths"] = sorted([s.filepath for s in bpy.data.sounds] + [f.filepath for f in bpy.data.fonts if f.filepath != "<builtin>"])


def write_noise_png(path: str, size: int = 1024) -> None:
    """An image that does not compress (about 4 MB), so its upload spans many reads."""
    import numpy as np

    img = bpy.data.images.new("noise", size, size, alpha=True)
    img.pixels.foreach_set(np.random.default_rng(7).random(size * size * 4, dtype=np.float32))
    img.filepath_raw = path
    img.file_format = "PNG"
    img.save()


def phase_gui() -> bool:
    """Starts the GUI checks; they end in a timer, which writes the report and quits Blender."""
    from drover_blender import ui, work

    bpy.context.preferences.filepaths.temporary_directory = os.path.dirname(OPT["report"])
    install()
    prefs().token = OPT["token"]
    bpy.ops.wm.open_mainfile(filepath=OPT["gui_blend"])
    write_noise_png(os.path.join(os.path.dirname(OPT["gui_blend"]), "noise.png"))
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "PROPERTIES")
    area.spaces[0].context = "OUTPUT"
    region = next(r for r in area.regions if r.type == "WINDOW")

    draws = {"count": 0, "errors": []}
    original_draw = ui.DROVER_PT_render.draw

    def counted_draw(self, context):
        draws["count"] += 1
        try:
            original_draw(self, context)
        except Exception:
            draws["errors"].append(traceback.format_exc())
            raise

    ui.DROVER_PT_render.draw = counted_draw

    # The upload thread stops at its first bytes until the test has pressed Cancel, so Cancel
    # lands mid-upload whatever the machine's speed.
    paused, resume = {"at": None}, __import__("threading").Event()
    texts = []
    original_progress = work.Work.progress

    def progress(self, text, fraction):
        original_progress(self, text, fraction)
        texts.append(text)
        if text.startswith("Uploading") and not text.startswith("Uploading 0 B") and paused["at"] is None:
            paused["at"] = text
            resume.wait(60)

    work.Work.progress = progress
    scene = bpy.context.scene
    state = {"step": "cancel", "ticks_while_uploading": 0, "deadline": __import__("time").monotonic() + 240}

    def submit():
        with bpy.context.temp_override(window=window, area=area, region=region):
            return sorted(bpy.ops.drover.submit_render("INVOKE_DEFAULT", frames="1"))

    def finish():
        ui.DROVER_PT_render.draw = original_draw
        work.Work.progress = original_progress
        resume.set()
        report.update(draws=draws["count"], draw_errors=draws["errors"], texts=texts)
        write_report()
        bpy.ops.wm.quit_blender()
        return None

    def tick():
        try:
            if __import__("time").monotonic() > state["deadline"]:
                report["exception"] = f"timed out in step {state['step']}: {dict(scene.drover.items())}"
                return finish()
            step = state["step"]
            if step == "cancel":
                report["first_invoke"] = submit()
                state["step"] = "wait_upload"
            elif step == "wait_upload" and paused["at"] is not None:
                state["ticks_while_uploading"] += 1  # this timer runs while the upload thread works
                if state["ticks_while_uploading"] == 3:
                    with bpy.context.temp_override(window=window, area=area, region=region):
                        report["cancel"] = sorted(bpy.ops.drover.cancel())
                    resume.set()
                    state["step"] = "canceled"
            elif step == "canceled" and work.current is not None and work.current.done.is_set() and not work.busy():
                err = work.current.error
                report["canceled"] = {"code": getattr(err, "code", repr(err)), "job_id": scene.drover.last_job_id, "paused_at": paused["at"]}
                state["step"] = "wait_modal_end"
            elif step == "wait_modal_end":
                state["waited"] = state.get("waited", 0) + 1
                if state["waited"] >= 5:  # the first operator's own timer (0.2 s) has seen the end
                    state["step"] = "submit"
            elif step == "submit":
                work.Work.progress = original_progress
                report["second_invoke"] = submit()
                state["step"] = "follow"
            elif step == "follow" and scene.drover.last_job_id and scene.drover.last_job_status == "done":
                s = scene.drover
                report["followed"] = {"job_id": s.last_job_id, "status": s.last_job_status, "frames": [s.frames_done, s.frame_count],
                                      "uploaded": [s.last_uploaded_files, s.last_project_files]}
                return finish()
        except BaseException:
            report["exception"] = traceback.format_exc()
            return finish()
        return 0.1

    bpy.app.timers.register(tick, first_interval=0.5)
    return True


def write_report() -> None:
    with open(OPT["report"], "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)


deferred = False
try:
    deferred = bool({"submit": phase_submit, "fetch": phase_fetch, "gui": phase_gui, "packing": phase_packing}[OPT["phase"]]())
except BaseException:
    report["exception"] = traceback.format_exc()
if not deferred:
    write_report()
