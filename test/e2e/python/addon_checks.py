"""The Blender add-on, driven inside real Blender by test/e2e/blender-addon.test.ts:

    blender -b --factory-startup -noaudio --python addon_checks.py -- '{"phase": "submit", ...}'

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
    report["result"] = sorted(bpy.ops.drover.submit_render(frames="1-2", chunk=1))
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


try:
    {"submit": phase_submit, "fetch": phase_fetch}[OPT["phase"]]()
except BaseException:
    report["exception"] = traceback.format_exc()
with open(OPT["report"], "w", encoding="utf-8") as f:
    json.dump(report, f, indent=1)
