"""Render an exported face OBJ in Blender (the check of the mesh's outline, issue 16):

    blender -b --python packaging/blender_render_obj.py -- FACE.obj OUT.png

The textured mesh turned 35 degrees, orthographic camera, one sun, grey background, 700x800.
Runs inside Blender's own Python (``bpy``, Blender 3.x or 4.x); not part of the package.
"""

import math
import sys

import bpy


def import_obj(path: str) -> object:
    """Import the OBJ (+y up, +z towards the viewer) and return the new object."""
    if hasattr(bpy.ops.wm, "obj_import"):
        bpy.ops.wm.obj_import(filepath=path, forward_axis="NEGATIVE_Z", up_axis="Y")
    else:
        bpy.ops.import_scene.obj(filepath=path, axis_forward="-Z", axis_up="Y")
    return bpy.context.selected_objects[0]


def main() -> None:
    obj_path, out = sys.argv[sys.argv.index("--") + 1 :][:2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    face = import_obj(obj_path)
    face.rotation_euler = (math.radians(90), 0.0, math.radians(35))
    scene = bpy.context.scene
    engines = [item.identifier for item in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items]
    scene.render.engine = "BLENDER_EEVEE" if "BLENDER_EEVEE" in engines else "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = 700, 800
    scene.world = bpy.data.worlds.new("background")
    scene.world.color = (0.35, 0.35, 0.38)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(camera)
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = 2.6
    camera.location = (0.0, -6.0, 0.0)
    camera.rotation_euler = (math.radians(90), 0.0, 0.0)
    scene.camera = camera
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    scene.collection.objects.link(sun)
    sun.rotation_euler = (math.radians(60), 0.0, math.radians(-30))
    sun.data.energy = 3.0
    scene.render.filepath = out
    bpy.ops.render.render(write_still=True)


main()
