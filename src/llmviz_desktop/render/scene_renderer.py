"""Draws a layout Scene: all tensor boxes in one instanced draw, values from one float atlas."""

from __future__ import annotations

import moderngl
import numpy as np

from ..model.threads import release_free_memory
from ..scene.drawing import Drawing, Motion
from ..scene.values import BoxValues
from .programs import bind_block, load_program
from .ubo import (
    BOX_INSTANCE,
    BOX_INSTANCE_ATTRS,
    BOX_INSTANCE_FORMAT,
    GLOBALS_BINDING,
    HIGHLIGHTS_BINDING,
    HIGHLIGHTS_SIZE,
    pack_highlights,
)

VERTICES_PER_BOX = 18  # three eye-facing faces, built in the vertex shader
KIND_CODE = {"weight": 0, "intermediate": 1, "aggregate": 2, "token": 3}
BACKGROUND = (0.035, 0.043, 0.06, 1.0)


def box_instances(scene, atlas_positions=None, normalisers=None) -> np.ndarray:
    """Per-instance data for every box of a layout scene (pure numpy, testable)."""
    inst = np.zeros(len(scene.boxes), BOX_INSTANCE)
    for i, box in enumerate(scene.boxes):
        ox, oy, oz = box.origin
        w, h, d = box.size
        inst[i]["origin"] = (ox, oy - h, oz - d)  # layout origin is the top-left-front corner
        inst[i]["size"] = (w, h, d)
        inst[i]["cells"] = (box.cols, box.rows)
        pos = atlas_positions[i] if atlas_positions is not None else None
        inst[i]["tex"] = pos if pos is not None else (-1.0, -1.0)
        norm = normalisers[i] if normalisers is not None else 1.0
        inst[i]["style"] = (KIND_CODE[box.kind], 1.0, norm, max(box.heads_merged, 1))
        inst[i]["anim"] = (1.0, 0.0, 0.0, 0.0)
        inst[i]["lod"] = (1.0, 1.0)
    return inst


MAX_GHOSTS = 16
MAX_TILES = 640  # free-standing numbers of one moment (a 4C-term dot product's inputs and
# products, with room to spare)
TILE_TEX = -2.0  # tex.x of a tile: its value is in anim.w, not in the atlas


def apply_motion(
    inst: np.ndarray, origins: np.ndarray, walk: Motion
) -> tuple[np.ndarray, np.ndarray]:
    """The walkthrough's motion on top of the base instances (pure numpy): reveal fractions,
    opacity, highlights, and ghost columns flying between boxes (appended instances)."""
    inst, origins = inst.copy(), origins.copy()
    for k, (fraction, order) in walk.reveal.items():
        inst[k]["anim"][0:2] = (fraction, order)
    for k, alpha in walk.alpha.items():
        inst[k]["style"][1] = alpha
    for k in walk.highlight:
        inst[k]["anim"][2] = 1.0
    ghosts = []
    for g in walk.ghosts[:MAX_GHOSTS]:
        src, dst = inst[g.src], inst[g.dst]
        cw_src = src["size"][0] / src["cells"][0]
        cw_dst = dst["size"][0] / dst["cells"][0]
        start = origins[g.src] + (g.src_col * cw_src, 0.0, 0.0)
        end = origins[g.dst] + (g.dst_col * cw_dst, 0.0, 0.0)
        s = g.t * g.t * (3 - 2 * g.t)  # eased
        lift = np.sin(np.pi * s) * 6.0 * max(cw_src, cw_dst)  # arc toward the viewer
        ghost = src.copy()
        ghost["size"] = (cw_src, src["size"][1], src["size"][2])
        ghost["cells"] = (1.0, src["cells"][1])
        if src["tex"][0] >= 0:
            ghost["tex"] = (src["tex"][0] + g.src_col // src["lod"][0], src["tex"][1])
        ghost["anim"] = (1.0, 0.0, 1.0, 0.0)
        ghost["style"][1] = 1.0
        ghosts.append((ghost, start + (end - start) * s + (0.0, 0.0, lift)))
    if ghosts:
        inst = np.concatenate([inst, np.array([g for g, _ in ghosts], inst.dtype)])
        origins = np.concatenate([origins, np.array([o for _, o in ghosts])])
    if walk.tiles:
        tiles = tile_instances(walk.tiles[:MAX_TILES], inst)
        inst = np.concatenate([inst, tiles])
        origins = np.concatenate([origins, tiles["origin"].astype(np.float64)])
    return inst, origins


def tile_instances(tiles, inst: np.ndarray) -> np.ndarray:
    """One-cell boxes for the walkthrough's free-standing numbers (pure numpy): the value
    rides in anim.w, the colour ramp and scale are those of the box each tile is like."""
    out = np.zeros(len(tiles), BOX_INSTANCE)
    for n, tile in enumerate(tiles):
        like = inst[tile.like]
        size = np.asarray(tile.size, np.float64)
        out[n]["origin"] = np.asarray(tile.at, np.float64) - size / 2
        out[n]["size"] = size
        out[n]["cells"] = (1.0, 1.0)
        out[n]["tex"] = (TILE_TEX, 0.0)
        kind = like["style"][0] if tile.kind is None else tile.kind
        norm = like["style"][2] if tile.norm is None else tile.norm
        out[n]["style"] = (kind, tile.alpha, norm, 1.0)
        out[n]["anim"] = (1.0, 0.0, 1.0 if tile.lit else 0.0, tile.value)
        out[n]["lod"] = (1.0, 1.0)
    return out


class SceneRenderer:
    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self.program = load_program(ctx, "tensor_boxes")
        bind_block(self.program, "Globals", GLOBALS_BINDING)
        bind_block(self.program, "Highlights", HIGHLIGHTS_BINDING)
        self.hl_ubo = ctx.buffer(pack_highlights([]))
        assert self.hl_ubo.size == HIGHLIGHTS_SIZE
        sampler = self.program["u_values"]
        assert isinstance(sampler, moderngl.Uniform)
        sampler.value = 0
        self.instances: moderngl.Buffer | None = None
        self.vao: moderngl.VertexArray | None = None
        self.atlas: moderngl.Texture | None = None
        self.scene = None
        self.values: BoxValues | None = None
        self._origins = np.zeros((0, 3))
        self._inst = np.zeros(0, BOX_INSTANCE)
        self.count = 0

    def set_scene(self, scene, values: BoxValues) -> None:
        """Upload a scene's boxes and the values prepared for it (scene/values.py)."""
        atlas = values.atlas
        inst = box_instances(scene, values.positions, values.norms)
        inst["lod"] = values.lods
        self._origins = inst["origin"].astype(np.float64)  # world, full precision
        self._inst = inst
        self._release_scene()
        self.atlas = self.ctx.texture(
            (atlas.shape[1], atlas.shape[0]), 1, atlas.tobytes(), dtype="f4"
        )
        self.atlas.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.instances = self.ctx.buffer(
            reserve=(len(inst) + MAX_GHOSTS + MAX_TILES) * inst.dtype.itemsize
        )
        self.vao = self.ctx.vertex_array(
            self.program,
            [(self.instances, BOX_INSTANCE_FORMAT, *BOX_INSTANCE_ATTRS)],
        )
        self.scene, self.values, self.count = scene, values, len(inst)
        del atlas
        release_free_memory()  # the big transient copies of a large model go back to the OS

    def sync(self, drawing: Drawing) -> None:
        """Upload the Drawing's scene and values when they are not the ones on the GPU."""
        if drawing.scene is not self.scene or drawing.values is not self.values:
            self.set_scene(drawing.scene, drawing.values)

    def draw(self, drawing: Drawing, anchor: np.ndarray) -> None:
        """Draw the boxes of a Drawing, positions relative to `anchor` (ubo.frame_globals;
        the frame's Globals block is bound), uploading its scene and values when they changed."""
        self.sync(drawing)
        self.hl_ubo.write(pack_highlights(drawing.highlights))
        if self.vao is None or self.instances is None or self.atlas is None:
            return
        motion = drawing.motion
        inst, origins = (
            (self._inst, self._origins)
            if motion is None
            else apply_motion(self._inst, self._origins, motion)
        )
        inst = inst.copy()
        inst["origin"] = (origins - anchor).astype(np.float32)
        self.instances.write(inst.tobytes())
        self.count = len(inst)
        self.hl_ubo.bind_to_uniform_block(HIGHLIGHTS_BINDING)
        self.atlas.use(0)
        # the shader emits only eye-facing faces (3 per box), so no face culling is needed
        self.ctx.enable(moderngl.DEPTH_TEST | moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self.vao.render(moderngl.TRIANGLES, vertices=VERTICES_PER_BOX, instances=self.count)

    def _release_scene(self) -> None:
        for obj in (self.vao, self.instances, self.atlas):
            if obj is not None:
                obj.release()
        self.vao = self.instances = self.atlas = None

    def release(self) -> None:
        self._release_scene()
        for obj in (self.hl_ubo, self.program):
            obj.release()
