"""Keep one Blender warm and render frames on request: Drover's warm render session.

The agent starts Blender with the same arguments a cold task gets, minus the frames, and this
script instead of render_setup.py (which it imports, so the overrides are applied by the same code):

    blender -b FILE -noaudio --python-exit-code 1 [--scene S] -o OUT/frame_##### [-F FMT] -x 1 \
            -t N --python warm_driver.py -- '{"samples": 8, "nonce": "..."}'

A spare session is started before anyone needs it, with no file (so a job's first task does not
wait for Blender to start):

    blender -b -noaudio --python-exit-code 1 --python warm_driver.py -- '{"spare": true, "nonce": "..."}'

It answers {"spare": true} and waits for {"open": {...}} (see open_project), which does in Python
what the arguments above do for a fresh session; from then on it is like any other session.

It applies the overrides once, then reads one JSON command per line from stdin:
    {"frame": 12}     render frame 12, exactly as `-f 12` would (see render_frame)
    {"quit": true}    (or end of input) leave the loop; Blender then quits
and answers each on stdout with a line "@drover-<nonce> {json}". Replies share stdout with
Blender's own output on purpose: everything Blender printed for a frame comes before its reply, so
the agent can file each line under the task it belongs to. The nonce (random, per session) keeps
a line printed by the scene itself from passing for a reply.

Replies: {"ready": true, "pid": ...} once set up; then per frame
{"frame": 12, "ok": true, "path": "/abs/OUT/frame_00012.png", "seconds": 0.41, "rssMb": 180.2}
or {"frame": 12, "ok": false, "error": "..."}.
"""
import ctypes
import json
import os
import sys
import time
import traceback

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_setup  # noqa: E402  (beside this file; the agent copies both into the session)

_libc = ctypes.CDLL(None)


def reply(nonce, message):
    # Blender's C code prints through its own stdio buffer and Python through sys.stdout: flush
    # both so that every line of this frame is in the pipe before the reply that closes it.
    sys.stdout.flush()
    _libc.fflush(None)
    os.write(1, ("@drover-%s %s\n" % (nonce, json.dumps(message))).encode())


def rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def render_frame(scene, frame):
    """Render `frame` the way `blender -b FILE -f frame` does.

    `-f N` calls RE_RenderAnim(scene, N, N): it sets the current frame, renders it in the
    render's own depsgraph and writes it under the -o pattern with '#' replaced by the frame.
    The render operator with animation=True calls the same RE_RenderAnim over the scene's range,
    so the range is narrowed to this one frame (the range does not change pixels; a cold chunk
    with -s/-e changes it too). No frame_set() first: it would evaluate the viewport depsgraph and
    run frame-change handlers an extra time, which `-f` does not do.
    """
    if frame >= scene.frame_end:
        scene.frame_end = frame
        scene.frame_start = frame
    else:
        scene.frame_start = frame
        scene.frame_end = frame
    started = time.monotonic()
    result = bpy.ops.render.render(animation=True, scene=scene.name)
    if "FINISHED" not in result:
        raise RuntimeError("the render was cancelled (%s)" % ", ".join(sorted(result)))
    path = bpy.path.abspath(scene.render.frame_path(frame=frame))
    if not os.path.exists(path):
        raise RuntimeError("Blender saved no file at %s" % path)
    return path, time.monotonic() - started


def open_project(project):
    """Load the project and set what a fresh session's arguments set, in the same order.

    `-b FILE` loads the file as wm.open_mainfile does (UI and all, scripts in it not run unless the
    user's preferences allow it); `--scene S` makes S the one rendered (render_setup picks it by
    name); `-o`, `-F` and `-x` set the scene's output path, format and file extension; `-t N`
    fixes the render threads (the thread count does not change Cycles' pixels).
    """
    bpy.ops.wm.open_mainfile(filepath=project["blend"])
    name = project.get("scene")
    scene = bpy.data.scenes[name] if name and name in bpy.data.scenes else bpy.context.scene
    render = scene.render
    render.filepath = project["output"]
    if project.get("format"):
        render.image_settings.file_format = project["format"]
    render.use_file_extension = True
    render.threads_mode = "FIXED"
    render.threads = int(project["threads"])
    return project["settings"]


def main():
    opt = render_setup.options()
    nonce = opt.pop("nonce")
    opt.pop("session", None)  # only there to name the session in Blender's command line
    if opt.pop("spare", False):
        reply(nonce, {"spare": True, "pid": os.getpid()})
        line = sys.stdin.readline()
        if not line.strip():
            return  # closed while spare
        command = json.loads(line)
        if "open" not in command:
            return
        opt = open_project(command["open"])
    scene = render_setup.apply(opt)
    reply(nonce, {"ready": True, "pid": os.getpid(), "blender": bpy.app.version_string})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        if command.get("quit"):
            break
        frame = int(command["frame"])
        try:
            path, seconds = render_frame(scene, frame)
            reply(nonce, {"frame": frame, "ok": True, "path": path, "seconds": seconds, "rssMb": rss_mb()})
        except Exception as err:  # a bad frame ends the task, not necessarily the session
            traceback.print_exc()
            reply(nonce, {"frame": frame, "ok": False, "error": "%s: %s" % (type(err).__name__, err)})


main()
