"""The add-on's preferences: which farm, and the API token (the password is never kept)."""
import bpy

from .sdk import Client, DroverError

ADDON = __package__


def preferences() -> "DroverPreferences":
    return bpy.context.preferences.addons[ADDON].preferences


class DROVER_OT_sign_in(bpy.types.Operator):
    """Sign in to the Drover farm with your user name and password; only the token is kept"""
    bl_idname = "drover.sign_in"
    bl_label = "Sign In to Drover"
    bl_options = {"INTERNAL"}

    username: bpy.props.StringProperty(name="User name", options={"SKIP_SAVE"})
    password: bpy.props.StringProperty(name="Password", subtype="PASSWORD", options={"SKIP_SAVE"})

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        prefs = preferences()
        from .work import explain  # the same wording as every other farm error
        try:
            token = Client(server=prefs.server.strip(), token="").login(self.username, self.password)
        except DroverError as err:
            # A refused sign-in is about the name or password, not a token: say what the farm said.
            self.report({"ERROR"}, f"Drover: {err.message}" if err.code == "unauthorized" else explain(err, prefs.server))
            return {"CANCELLED"}
        finally:
            self.password = ""
        prefs.token = token
        prefs.user = self.username
        self.report({"INFO"}, f"Signed in to {prefs.server} as {self.username}")
        return {"FINISHED"}


class DROVER_OT_sign_out(bpy.types.Operator):
    """Forget the token (it stays valid on the farm until it is revoked there)"""
    bl_idname = "drover.sign_out"
    bl_label = "Sign Out"
    bl_options = {"INTERNAL"}

    def execute(self, context):
        prefs = preferences()
        prefs.token = ""
        prefs.user = ""
        return {"FINISHED"}


class DroverPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON

    server: bpy.props.StringProperty(name="Server", description="The Drover coordinator's URL", default="http://127.0.0.1:8686")
    token: bpy.props.StringProperty(name="Token", description="API token (Sign In gets one; `drover login` keeps one in ~/.config/drover/config.json)", subtype="PASSWORD")
    user: bpy.props.StringProperty(name="User")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "server")
        layout.prop(self, "token")
        row = layout.row()
        row.operator(DROVER_OT_sign_in.bl_idname, icon="USER")
        if self.token:
            row.operator(DROVER_OT_sign_out.bl_idname)
            layout.label(text=f"Signed in{' as ' + self.user if self.user else ''}", icon="CHECKMARK")


classes = (DROVER_OT_sign_in, DROVER_OT_sign_out, DroverPreferences)
