"""Apply a Drover task's render overrides to the scene, before Blender renders it.

Blender handles its arguments in order, so blender-command.ts places this script after the
file, --scene, -o and -F, and before -f / -a:

    blender -b FILE ... -o OUT -F PNG -x 1 --python render_setup.py -t 2 -f 1,2 -- '{"samples": 8}'

The JSON after `--` (every key optional):
    scene        name of the scene to change (default: the context scene, set by --scene)
    samples      render samples (Cycles, Eevee)
    resolution   [width, height]
    percentage   resolution percentage
    format       image format (already set by -F; checked again here)
    gpus         the GPUs the task leased (agent indices; CUDA_VISIBLE_DEVICES shows Blender only
                 those): Cycles renders on them with OptiX, else CUDA. Absent: the device is left
                 as the file says.

Without overrides the scene is left as the user saved it, so the result matches a plain
`blender -b FILE -f N`. The only changes then are ones that cannot alter pixels (overwrite
existing output, no placeholders) and turning off Cycles denoising when this Blender cannot
denoise: without OpenImageDenoise Cycles stops with "Build without OpenImageDenoiser" and saves
nothing. Each change is announced on a line starting with "Drover:" for the task log.
"""
import json
import sys

import bpy

MOVIE_FORMATS = {"FFMPEG", "AVI_JPEG", "AVI_RAW"}


def say(message):
    print("Drover: " + message, flush=True)


def options():
    argv = sys.argv
    if "--" in argv and len(argv) > argv.index("--") + 1:
        return json.loads(argv[argv.index("--") + 1])
    return {}


def has_openimagedenoise():
    try:
        import _cycles
    except ImportError:
        return False
    return bool(getattr(_cycles, "with_openimagedenoise", False))


def use_leased_gpus(scene, leased):
    """Cycles renders on the GPUs the task leased: the agent set CUDA_VISIBLE_DEVICES to them, so
    every CUDA/OptiX device Blender finds is one of them. Without such a device (or with another
    engine) it renders on the CPU, and says so."""
    import os
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    say("the task leased GPU %s (CUDA_VISIBLE_DEVICES=%s): setting Cycles to render on it" % (",".join(str(g) for g in leased), visible))
    if scene.render.engine != "CYCLES":
        say("engine %s is not Cycles: the GPU setting does not apply" % scene.render.engine)
        return
    try:
        prefs = bpy.context.preferences.addons["cycles"].preferences
    except KeyError:
        say("the Cycles add-on is not loaded: rendering on the CPU")
        return
    for kind in ("OPTIX", "CUDA"):
        try:
            prefs.compute_device_type = kind
        except TypeError:
            continue  # this Blender was built without it
        if hasattr(prefs, "get_devices_for_type"):
            devices = list(prefs.get_devices_for_type(kind))
        else:
            prefs.get_devices()
            devices = [d for d in prefs.devices if d.type == kind]
        if devices:
            for d in prefs.devices:
                d.use = d.type == kind
            scene.cycles.device = "GPU"
            say("Cycles renders on GPU with %s: %s" % (kind, ", ".join(d.name for d in devices)))
            return
    scene.cycles.device = "CPU"
    say("this Blender finds no CUDA or OptiX device: rendering on the CPU")


def apply(opt):
    """Apply the overrides in `opt` (the JSON described above); returns the scene it changed.
    warm_driver.py calls this once per warm session, so warm and cold frames get the same settings."""
    if opt.get("scene"):
        if opt["scene"] not in bpy.data.scenes:
            raise SystemExit("Drover error: no scene named %r; scenes: %s" % (opt["scene"], ", ".join(s.name for s in bpy.data.scenes)))
        scene = bpy.data.scenes[opt["scene"]]
    else:
        scene = bpy.context.scene
    render = scene.render

    if "samples" in opt:
        samples = int(opt["samples"])
        if render.engine == "CYCLES":
            scene.cycles.samples = samples
        elif render.engine in ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"):
            scene.eevee.taa_render_samples = samples
        else:
            say("samples override ignored: engine %s has no samples setting" % render.engine)
    if "resolution" in opt:
        render.resolution_x, render.resolution_y = (int(v) for v in opt["resolution"])
    if "percentage" in opt:
        render.resolution_percentage = int(opt["percentage"])
    if "format" in opt:
        render.image_settings.file_format = opt["format"]

    if render.image_settings.file_format in MOVIE_FORMATS:
        raise SystemExit(
            "Drover error: scene %r writes a movie (%s); a farm renders frames as images, choose an image format (e.g. PNG or OPEN_EXR)"
            % (scene.name, render.image_settings.file_format))

    # Whatever denoiser the file names (in a build without OIDN the setting even reads as ""),
    # a CPU render can only denoise with OpenImageDenoise.
    if render.engine == "CYCLES" and scene.cycles.use_denoising and not has_openimagedenoise():
        scene.cycles.use_denoising = False
        say("denoising turned off: this Blender was built without OpenImageDenoise")

    if opt.get("gpus"):
        use_leased_gpus(scene, [int(g) for g in opt["gpus"]])

    # A retried task renders into a folder that may hold a previous attempt's frames.
    render.use_overwrite = True
    render.use_placeholder = False

    say("settings: scene=%s engine=%s samples=%s resolution=%dx%d@%d%% format=%s" % (
        scene.name, render.engine,
        scene.cycles.samples if render.engine == "CYCLES" else getattr(scene.eevee, "taa_render_samples", "-"),
        render.resolution_x, render.resolution_y, render.resolution_percentage,
        render.image_settings.file_format))
    return scene


def main():
    apply(options())


# Run by Blender (--python) as __main__; imported by warm_driver.py, which calls apply() itself.
if __name__ == "__main__":
    main()
