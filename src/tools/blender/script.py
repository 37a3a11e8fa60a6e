# LocalForge's Blender driver: run as `blender -b --factory-startup --python
# script.py --python-exit-code 1 -- ARGS.json`. Builds the scene the action asks
# for, renders with Cycles on the CPU, and prints one `LOCALFORGE_RESULT {json}`
# line. Any exception exits non-zero with its traceback on stderr.
import json
import math
import sys

import bpy

args = json.load(open(sys.argv[sys.argv.index("--") + 1]))
action = args["action"]
result = {}


def clear():
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()


def material(name, color, metallic=0.0, roughness=0.5):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    bsdf = m.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Roughness"].default_value = roughness
    return m


def rgb(value, default=(0.8, 0.2, 0.2)):
    if not value:
        return default
    if isinstance(value, str):
        h = value.lstrip("#")
        return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return tuple(float(c) for c in value[:3])


def look_at(obj, target):
    from mathutils import Vector

    direction = Vector(target) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def camera_and_light(distance=6.0, isometric=False, ortho_scale=4.0, target=(0, 0, 0)):
    if isometric:
        loc = (distance, -distance, distance * 0.8165)
    else:
        loc = (distance * 0.8, -distance, distance * 0.6)
    bpy.ops.object.camera_add(location=loc)
    cam = bpy.context.object
    if isometric:
        cam.data.type = "ORTHO"
        cam.data.ortho_scale = ortho_scale
    look_at(cam, target)
    bpy.context.scene.camera = cam
    bpy.ops.object.light_add(type="SUN", location=(4, -4, 8))
    bpy.context.object.data.energy = 4.0
    world = bpy.context.scene.world or bpy.data.worlds.new("World")
    bpy.context.scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*rgb(args.get("background"), (0.05, 0.05, 0.05)), 1.0)


def settings():
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = int(args.get("samples", 8))
    scene.cycles.use_denoising = False
    scene.render.resolution_x = int(args.get("width", 256))
    scene.render.resolution_y = int(args.get("height", 256))
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"  # colours as asked, not Filmic's compressed ones
    scene.render.film_transparent = bool(args.get("transparent", False))
    if scene.render.film_transparent:
        scene.render.image_settings.color_mode = "RGBA"


def render_still(path):
    settings()
    bpy.context.scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    result["output"] = path


def finish():
    if args.get("save_blend"):
        bpy.ops.wm.save_as_mainfile(filepath=args["save_blend"])
        result["blend"] = args["save_blend"]
    print("LOCALFORGE_RESULT " + json.dumps(result), flush=True)


PRIMITIVES = {
    "cube": lambda s: bpy.ops.mesh.primitive_cube_add(size=s),
    "sphere": lambda s: bpy.ops.mesh.primitive_uv_sphere_add(radius=s / 2, segments=48, ring_count=24),
    "cylinder": lambda s: bpy.ops.mesh.primitive_cylinder_add(radius=s / 2, depth=s),
    "cone": lambda s: bpy.ops.mesh.primitive_cone_add(radius1=s / 2, depth=s),
    "torus": lambda s: bpy.ops.mesh.primitive_torus_add(major_radius=s / 2, minor_radius=s / 6),
    "monkey": lambda s: bpy.ops.mesh.primitive_monkey_add(size=s),
    "plane": lambda s: bpy.ops.mesh.primitive_plane_add(size=s),
}


def export(path):
    """The scene's meshes to `path` (.glb/.gltf, .fbx, .obj by its extension), as 0.x did."""
    import os

    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    ext = os.path.splitext(path)[1].lower()
    if ext in (".glb", ".gltf"):
        bpy.ops.export_scene.gltf(filepath=path, export_format="GLB" if ext == ".glb" else "GLTF_SEPARATE", export_apply=True)
    elif ext == ".fbx":
        bpy.ops.export_scene.fbx(filepath=path)
    elif ext == ".obj":
        if hasattr(bpy.ops.wm, "obj_export"):
            bpy.ops.wm.obj_export(filepath=path)
        else:
            bpy.ops.export_scene.obj(filepath=path)
    else:
        raise ValueError(f"cannot export {path!r}: use .glb, .gltf, .fbx or .obj")
    result["output"] = path
    result["model_path"] = path


def output_or_export(**camera):
    """Render the still `output` names, or export the model to `export` (0.x's `output_path`)."""
    if args.get("export"):
        export(args["export"])
    else:
        camera_and_light(**camera)
        render_still(args["output"])


def add_primitive():
    shape = args.get("shape", "cube")
    if shape not in PRIMITIVES:
        raise ValueError(f"unknown shape {shape!r}; shapes: {', '.join(PRIMITIVES)}")
    PRIMITIVES[shape](float(args.get("size", 2.0)))
    obj = bpy.context.object
    levels = int(float(args.get("subdivisions", 0) or 0))
    if levels > 0:  # 0.x's smoothness: a subdivision-surface modifier
        mod = obj.modifiers.new("subdivisions", "SUBSURF")
        mod.levels = mod.render_levels = levels
    if shape in ("sphere", "monkey", "torus"):
        bpy.ops.object.shade_smooth()
    obj.data.materials.append(material("lf", rgb(args.get("color")), float(args.get("metallic", 0.0))))
    return obj


PIPS = {1: [(0, 0)], 2: [(-1, -1), (1, 1)], 3: [(-1, -1), (0, 0), (1, 1)], 4: [(-1, -1), (-1, 1), (1, -1), (1, 1)],
        5: [(-1, -1), (-1, 1), (0, 0), (1, -1), (1, 1)], 6: [(-1, -1), (-1, 0), (-1, 1), (1, -1), (1, 0), (1, 1)]}
# Opposite faces add to 7: +Z 1, -Z 6, +X 2, -X 5, +Y 3, -Y 4.
FACES = [((0, 0, 1), 1), ((0, 0, -1), 6), ((1, 0, 0), 2), ((-1, 0, 0), 5), ((0, 1, 0), 3), ((0, -1, 0), 4)]


def add_die(offset=(0, 0, 0), color=(0.95, 0.95, 0.92), pip_color=(0.05, 0.05, 0.05), size=1.0):
    bpy.ops.mesh.primitive_cube_add(size=size, location=offset)
    die = bpy.context.object
    bevel = die.modifiers.new("bevel", "BEVEL")
    bevel.width = size * 0.08
    bevel.segments = 4
    die.data.materials.append(material("die", color, roughness=0.3))
    pip_mat = material("pip", pip_color)
    half, step, r = size / 2, size * 0.25, size * 0.08
    pips = 0
    for normal, value in FACES:
        axis = [i for i in range(3) if normal[i] == 0]
        for u, v in PIPS[value]:
            loc = list(offset)
            for i in range(3):
                if normal[i]:
                    loc[i] += normal[i] * half
            loc[axis[0]] += u * step
            loc[axis[1]] += v * step
            bpy.ops.mesh.primitive_uv_sphere_add(radius=r, location=loc, segments=16, ring_count=8)
            bpy.context.object.data.materials.append(pip_mat)
            pips += 1
    return pips


PHI = (1 + 5 ** 0.5) / 2
# The polyhedral dice 0.x made, by their vertices (a convex hull of each is the die).
DICE_VERTICES = {
    "d4": [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)],
    "d8": [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)],
    "d10": [(0, 0, 1.1), (0, 0, -1.1)]
    + [(math.cos(2 * math.pi * k / 10), math.sin(2 * math.pi * k / 10), 0.1 if k % 2 else -0.1) for k in range(10)],
    "d12": [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    + [p for a in (-1, 1) for b in (-1, 1) for p in ((0, a / PHI, b * PHI), (a / PHI, b * PHI, 0), (a * PHI, 0, b / PHI))],
    "d20": [p for a in (-1, 1) for b in (-1, 1) for p in ((0, a, b * PHI), (a, b * PHI, 0), (a * PHI, 0, b))],
}


def add_polyhedral_die(kind, offset=(0, 0, 0), size=1.0, color=(0.95, 0.95, 0.92)):
    """A d4, d8, d10, d12 or d20: the convex hull of its vertices, scaled to `size`."""
    import bmesh

    verts = DICE_VERTICES[kind]
    reach = max(math.sqrt(x * x + y * y + z * z) for x, y, z in verts)
    mesh = bpy.data.meshes.new(kind)
    bm = bmesh.new()
    for x, y, z in verts:
        bm.verts.new((x / reach * size / 2 + offset[0], y / reach * size / 2 + offset[1], z / reach * size / 2 + offset[2]))
    bmesh.ops.convex_hull(bm, input=bm.verts)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(kind, mesh)
    bpy.context.collection.objects.link(obj)
    obj.data.materials.append(material(kind, color, roughness=0.3))
    return len(mesh.polygons)


def add_any_die(kind, offset=(0, 0, 0), size=1.0, color=(0.95, 0.95, 0.92), pip_color=(0.05, 0.05, 0.05)):
    if kind == "d6":
        return add_die(offset=offset, color=color, pip_color=pip_color, size=size)
    if kind not in DICE_VERTICES:
        raise ValueError(f"unknown dice_type {kind!r}; dice: d4, d6, d8, d10, d12, d20")
    add_polyhedral_die(kind, offset=offset, size=size, color=color)
    return 0


clear()
if action in ("render", "render_animation"):
    bpy.ops.wm.open_mainfile(filepath=args["input"])
    if args.get("camera_isometric"):
        camera_and_light(isometric=True)
    if action == "render":
        bpy.context.scene.frame_set(int(args.get("frame", bpy.context.scene.frame_current)))
        render_still(args["output"])
    else:
        settings()
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = int(args.get("start", scene.frame_start)), int(args.get("end", scene.frame_end))
        scene.render.filepath = args["output_dir"].rstrip("/") + "/frame_"
        bpy.ops.render.render(animation=True)
        result["frames"] = [scene.render.frame_path(frame=f) for f in range(scene.frame_start, scene.frame_end + 1)]
        result["output_dir"] = args["output_dir"]
elif action == "create_primitive":
    add_primitive()
    output_or_export()
elif action == "render_isometric":
    add_primitive()
    camera_and_light(isometric=True, ortho_scale=float(args.get("size", 2.0)) * 2.2)
    render_still(args["output"])
elif action == "create_text_3d":
    bpy.ops.object.text_add()
    text = bpy.context.object
    text.data.body = args["text"]
    text.data.extrude = float(args.get("extrude", 0.15))
    text.data.size = float(args.get("font_size", 1.0))
    text.data.align_x = "CENTER"
    text.data.align_y = "CENTER"
    text.rotation_euler = (math.radians(90), 0, 0)
    text.data.materials.append(material("text", rgb(args.get("color"), (0.9, 0.7, 0.1)), 0.6, 0.3))
    output_or_export(distance=max(4.0, len(args["text"]) * 0.9))
elif action == "generate_texture":
    kind = args.get("pattern", "noise")
    kind = {"clouds": "noise", "marble": "wave", "wood": "wave"}.get(kind, kind)  # 0.x's texture types
    nodes = {"noise": "ShaderNodeTexNoise", "voronoi": "ShaderNodeTexVoronoi", "wave": "ShaderNodeTexWave", "checker": "ShaderNodeTexChecker",
             "brick": "ShaderNodeTexBrick"}
    if kind not in nodes:
        raise ValueError(f"unknown pattern {kind!r}; patterns: {', '.join(nodes)}")
    bpy.ops.mesh.primitive_plane_add(size=2)
    plane = bpy.context.object
    m = bpy.data.materials.new("tex")
    m.use_nodes = True
    tree = m.node_tree
    emit = tree.nodes.new("ShaderNodeEmission")
    tex = tree.nodes.new(nodes[kind])
    if "Scale" in tex.inputs:
        tex.inputs["Scale"].default_value = float(args.get("scale", 5.0))
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*rgb(args.get("color_a"), (0.1, 0.1, 0.1)), 1)
    ramp.color_ramp.elements[1].color = (*rgb(args.get("color_b"), (0.9, 0.9, 0.9)), 1)
    tree.links.new(tex.outputs["Distance" if kind == "voronoi" else "Fac"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], emit.inputs["Color"])
    tree.links.new(emit.outputs["Emission"], tree.nodes["Material Output"].inputs["Surface"])
    plane.data.materials.append(m)
    bpy.ops.object.camera_add(location=(0, 0, 3))
    cam = bpy.context.object
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 2.0
    bpy.context.scene.camera = cam
    render_still(args["output"])
elif action == "create_dice_set" and args.get("output_dir"):
    # 0.x's set: every die exported on its own, `d4.glb` ... `d20.glb`, keyed by its type.
    import os

    os.makedirs(args["output_dir"], exist_ok=True)
    for kind in ("d4", "d6", "d8", "d10", "d12", "d20"):
        clear()
        add_any_die(kind, size=float(args.get("size", 1.0)))
        path = os.path.join(args["output_dir"], f"{kind}.glb")
        export(path)
        result[kind] = {"model_path": path}
    result.pop("output", None)
    result.pop("model_path", None)
    result["output_dir"] = args["output_dir"]
elif action in ("create_dice", "create_dice_set"):
    count = int(args.get("count", 1)) if action == "create_dice_set" else 1
    kind = str(args.get("dice_type", "d6")).lower()
    total = 0
    for i in range(count):
        total += add_any_die(kind, offset=((i - (count - 1) / 2) * 1.5, 0, 0), size=float(args.get("size", 1.0)),
                             color=rgb(args.get("color"), (0.95, 0.95, 0.92)), pip_color=rgb(args.get("pip_color"), (0.05, 0.05, 0.05)))
    output_or_export(distance=3.5 + count * 1.2, target=(0, 0, 0))
    result.update({"dice": count, "pips": total, "dice_type": kind})
else:
    raise ValueError(f"unknown action {action!r}")
finish()
