"""The Drover panel in Properties > Output."""
import bpy

from . import work


class DROVER_PT_render(bpy.types.Panel):
    bl_label = "Drover"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "output"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        s = scene.drover
        layout.use_property_split = True
        layout.use_property_decorate = False

        layout.prop(s, "use_scene_range")
        row = layout.row(align=True)
        if s.use_scene_range:
            row.label(text=f"Frames {scene.frame_start}–{scene.frame_end}" + (f" every {scene.frame_step}" if scene.frame_step > 1 else ""))
        else:
            row.prop(s, "frame_start")
            row.prop(s, "frame_end")
        layout.prop(s, "chunk")
        row = layout.row(heading="Priority")
        row.prop(s, "use_priority", text="")
        sub = row.row()
        sub.active = s.use_priority
        sub.prop(s, "priority", text="")
        layout.prop(s, "job_name")

        current = work.current
        if work.busy() and current is not None:
            row = layout.row()
            row.label(text=f"{current.text} ({current.fraction * 100:.0f} %)", icon="SORTTIME")
            row.operator("drover.cancel", icon="CANCEL")
        else:
            layout.operator("drover.submit_render", icon="RENDER_ANIMATION")

        if s.last_job_id:
            box = layout.box()
            box.use_property_split = False
            row = box.row()
            progress = f"{s.frames_done}/{s.frame_count} frames" if s.frame_count else ""
            row.label(text=f"{s.last_job_id}: {s.last_job_status} {progress}".strip())
            row.operator("drover.refresh_job", text="", icon="FILE_REFRESH")
            if s.frame_count and hasattr(box, "progress"):  # Blender 4.0+
                box.progress(factor=s.frames_done / s.frame_count, text=progress)
            row = box.row()
            row.operator("drover.open_job_page", icon="URL")
            row.operator("drover.fetch_frames", icon="IMPORT")
            box.prop(s, "frames_dir")


classes = (DROVER_PT_render,)
