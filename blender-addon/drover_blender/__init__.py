"""Drover for Blender: render the open scene on a Drover farm from Output Properties.

Installed from the zip `drover blender-addon -o drover_blender.zip` writes (or the web app's
download); the zip carries Drover's Python SDK as `drover_blender.sdk`.
"""
bl_info = {
    "name": "Drover",
    "author": "Drover contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Properties > Output > Drover",
    "description": "Render on a Drover farm: pack the scene with the files it uses, submit, follow, fetch frames",
    "doc_url": "https://github.com/drover-farm/drover#blender-add-on",
    "category": "Render",
}

if "bpy" in locals():  # "Reload Scripts" in Blender: pick up edited modules
    import importlib

    for _m in (prefs, props, work, ops, ui):  # noqa: F821
        importlib.reload(_m)
else:
    from . import ops, prefs, props, ui, work

import bpy  # noqa: E402

_classes = (*prefs.classes, *props.classes, *ops.classes, *ui.classes)


def register() -> None:
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.drover = bpy.props.PointerProperty(type=props.DroverSceneSettings)
    ops.register_timer()


def unregister() -> None:
    work.stop_all()
    ops.unregister_timer()
    del bpy.types.Scene.drover
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
