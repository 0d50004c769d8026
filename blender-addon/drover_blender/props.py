"""What the panel edits, per scene, and what it shows about the last job."""
import bpy


class DroverSceneSettings(bpy.types.PropertyGroup):
    use_scene_range: bpy.props.BoolProperty(name="Scene Frame Range", description="Render the scene's own frame range", default=True)
    frame_start: bpy.props.IntProperty(name="Start", default=1, min=0)
    frame_end: bpy.props.IntProperty(name="End", default=250, min=0)
    chunk: bpy.props.IntProperty(name="Chunk", description="Frames per task", default=1, min=1)
    use_priority: bpy.props.BoolProperty(name="Priority", description="Send a priority with the job (otherwise the farm's default)", default=False)
    priority: bpy.props.IntProperty(name="Priority", default=50, min=0, max=100)
    job_name: bpy.props.StringProperty(name="Job Name", description="Default: the .blend's name")
    frames_dir: bpy.props.StringProperty(name="Frames Folder", description="Where Fetch Frames writes (default: a folder beside the .blend named after the job)", subtype="DIR_PATH")

    # The last job, shown in the panel (also read by scripts).
    last_job_id: bpy.props.StringProperty(name="Last Job")
    last_job_url: bpy.props.StringProperty(name="Job Page")
    last_job_status: bpy.props.StringProperty(name="Status")
    frames_done: bpy.props.IntProperty(name="Frames Done")
    frame_count: bpy.props.IntProperty(name="Frames")
    last_uploaded_files: bpy.props.IntProperty(name="Files Uploaded")
    last_project_files: bpy.props.IntProperty(name="Project Files")
    last_fetch_dir: bpy.props.StringProperty(name="Frames Fetched To")


classes = (DroverSceneSettings,)
