"""Describe a .blend file for Drover: its scenes' render settings and the external files it uses.

    blender -b FILE -noaudio --python-exit-code 1 --python scene_info.py -- OUT.json

The JSON goes to OUT.json, not stdout: Blender and add-ons print freely on stdout. Any failure
raises, so --python-exit-code makes Blender exit non-zero.
"""
import json
import os
import sys

import bpy


def scene_settings(scene):
    render = scene.render
    image = render.image_settings
    samples = None
    denoising = None
    if render.engine == "CYCLES":
        samples = scene.cycles.samples
        denoising = bool(scene.cycles.use_denoising)
    elif render.engine in ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"):
        samples = scene.eevee.taa_render_samples
    return {
        "name": scene.name,
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "frame_step": scene.frame_step,
        "fps": render.fps,
        "fps_base": render.fps_base,
        "resolution_x": render.resolution_x,
        "resolution_y": render.resolution_y,
        "resolution_percentage": render.resolution_percentage,
        "file_format": image.file_format,
        "color_mode": image.color_mode,
        "color_depth": image.color_depth,
        "engine": render.engine,
        "samples": samples,
        "denoising": denoising,
        "camera": scene.camera.name if scene.camera else None,
        "output_path": render.filepath,
        "use_file_extension": render.use_file_extension,
    }


def file_entry(kind, name, stored, library=None, packed=False):
    absolute = os.path.normpath(bpy.path.abspath(stored, library=library)) if stored else ""
    return {
        "kind": kind,
        "name": name,
        "path": stored,
        "absolute_path": absolute,
        "packed": packed,
        "exists": bool(absolute) and os.path.exists(absolute),
        "library": library.filepath if library else None,
    }


def external_files():
    files = []
    for lib in bpy.data.libraries:
        files.append(file_entry("library", lib.name, lib.filepath, lib.library, lib.packed_file is not None))
    for img in bpy.data.images:
        # Generated images, render results and viewer nodes have no file behind them.
        if img.source in {"FILE", "SEQUENCE", "MOVIE", "TILED"} and img.filepath:
            files.append(file_entry("image", img.name, img.filepath, img.library, img.packed_file is not None))
    for clip in bpy.data.movieclips:
        files.append(file_entry("movieclip", clip.name, clip.filepath, clip.library))
    for sound in bpy.data.sounds:
        files.append(file_entry("sound", sound.name, sound.filepath, sound.library, sound.packed_file is not None))
    for font in bpy.data.fonts:
        if font.filepath and font.filepath != "<builtin>":
            files.append(file_entry("font", font.name, font.filepath, font.library, font.packed_file is not None))
    for cache in bpy.data.cache_files:
        files.append(file_entry("cache", cache.name, cache.filepath, cache.library))
    for volume in getattr(bpy.data, "volumes", []):
        files.append(file_entry("volume", volume.name, volume.filepath, volume.library, volume.packed_file is not None))
    for text in bpy.data.texts:
        if text.filepath and not text.is_in_memory:
            files.append(file_entry("text", text.name, text.filepath, text.library))
    # Simulation caches written to disk (fluid domains, point caches with "disk cache").
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            if mod.type == "FLUID" and mod.fluid_type == "DOMAIN" and mod.domain_settings:
                files.append(file_entry("cache", f"{obj.name}/{mod.name}", mod.domain_settings.cache_directory, obj.library))
            cache = getattr(mod, "point_cache", None)
            if cache is not None and cache.use_disk_cache and cache.use_external:
                files.append(file_entry("cache", f"{obj.name}/{mod.name}", cache.filepath, obj.library))

    # Anything else Blender knows about (sequencer strips, modifiers with file paths, ...).
    known = {f["absolute_path"] for f in files}
    for stored, absolute in zip(bpy.utils.blend_paths(absolute=False), bpy.utils.blend_paths(absolute=True)):
        absolute = os.path.normpath(absolute)
        if absolute not in known:
            known.add(absolute)
            files.append({"kind": "other", "name": "", "path": stored, "absolute_path": absolute,
                          "packed": False, "exists": os.path.exists(absolute), "library": None})
    return files


def main():
    argv = sys.argv
    if "--" not in argv or len(argv) <= argv.index("--") + 1:
        raise SystemExit("scene_info.py: pass the output JSON path after --")
    out = argv[argv.index("--") + 1]
    info = {
        "blender_version": bpy.app.version_string,
        "blend_file": bpy.data.filepath,
        "active_scene": bpy.context.scene.name,
        "scenes": [scene_settings(s) for s in bpy.data.scenes],
        "external_files": external_files(),
    }
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, out)  # never leave a half-written file that looks complete


main()
