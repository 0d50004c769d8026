"""A tiny Blender scene for the examples: a cube turning over frames 1-10, rendered with Cycles
on the CPU in about a second a frame. Run it inside Blender, naming the .blend to write:

    blender -b --factory-startup --python examples/tutorial/make_scene.py -- ~/drover-tutorial/project/spin.blend
"""
import math
import os
import sys

import bpy


def target_path():
    if "--" not in sys.argv or len(sys.argv) <= sys.argv.index("--") + 1:
        raise SystemExit("make_scene.py: name the .blend to write after --")
    return os.path.abspath(os.path.expanduser(sys.argv[sys.argv.index("--") + 1]))


def main():
    out = target_path()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 10

    bpy.ops.mesh.primitive_cube_add(size=2)
    cube = bpy.context.active_object
    material = bpy.data.materials.new("orange")
    material.diffuse_color = (1.0, 0.45, 0.05, 1.0)
    cube.data.materials.append(material)
    # One keyframe at each end: the cube turns a quarter of a circle over the ten frames.
    cube.rotation_euler = (0.0, 0.0, 0.0)
    cube.keyframe_insert("rotation_euler", frame=1)
    cube.rotation_euler = (0.0, 0.0, math.pi / 2)
    cube.keyframe_insert("rotation_euler", frame=10)

    bpy.ops.object.light_add(type="SUN", location=(4, -4, 8))
    bpy.context.active_object.data.energy = 4.0
    bpy.ops.object.camera_add(location=(6, -6, 4.5), rotation=(math.radians(63), 0, math.radians(45)))
    scene.camera = bpy.context.active_object
    world = bpy.data.worlds.new("sky")
    world.color = (0.05, 0.06, 0.08)
    scene.world = world

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 8
    scene.cycles.use_denoising = False  # Debian's Blender is built without OpenImageDenoise
    scene.render.resolution_x, scene.render.resolution_y = 320, 180
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out)
    print(f"wrote {out}")


main()
