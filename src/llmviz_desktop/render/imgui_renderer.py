"""Dear ImGui renderer on moderngl, speaking Dear ImGui 1.92's renderer-managed texture protocol.

Dear ImGui 1.92 no longer hands the backend one finished font atlas. Fonts are rasterised on
demand at any size, and each frame `draw_data.textures` lists the textures the renderer must
look after, each with a status:

- WantCreate:  allocate a GPU texture from `tex.get_pixels_array()` (RGBA32 or Alpha8), give
               it an id (`tex.set_tex_id`), mark it OK;
- WantUpdates: copy only the rectangles in `tex.updates` (the new glyphs) into it, mark it OK;
- WantDestroy: once `tex.unused_frames > 0`, free it, clear its id, mark it Destroyed.

Draw commands then name their texture by that id (`ImDrawCmd.get_tex_id()`). User textures
(images shown in a panel) get ids from `register_texture`. The backend advertises the protocol
with `BackendFlags_.renderer_has_textures` (and `renderer_has_vtx_offset`). The structure
follows Dear ImGui's own imgui_impl_opengl3 (ImGui_ImplOpenGL3_UpdateTexture / RenderDrawData).

Create the renderer after `imgui.create_context()` and before the first `imgui.new_frame()`,
so the atlas is built through the protocol from the start. One renderer per ImGui context.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import moderngl
import numpy as np
from imgui_bundle import imgui

from .programs import load_program

_Status = imgui.ImTextureStatus
_INVALID_ID = 0  # ImTextureID_Invalid

# GL enums for the few state queries moderngl cannot answer (it has setters only).
_GL_BLEND = 0x0BE2
_GL_DEPTH_TEST = 0x0B71
_GL_CULL_FACE = 0x0B44
_GL_SCISSOR_TEST = 0x0C11
_GL_BLEND_SRC_RGB = 0x80C9
_GL_BLEND_DST_RGB = 0x80C8
_GL_BLEND_SRC_ALPHA = 0x80CB
_GL_BLEND_DST_ALPHA = 0x80CA
_GL_BLEND_EQUATION_RGB = 0x8009
_GL_BLEND_EQUATION_ALPHA = 0x883D

_VERTEX_FORMAT = "2f 2f 4f1"  # ImDrawVert: pos (2 x f32), uv (2 x f32), col (4 x u8, RGBA)
assert imgui.VERTEX_SIZE == 20, "ImDrawVert layout changed"


@dataclass
class TextureStats:
    """Counters of the texture requests served, for tests and diagnostics."""

    created: int = 0
    updated: int = 0  # textures that received a WantUpdates
    update_rects: int = 0  # rectangles uploaded by those updates
    update_pixels: int = 0  # pixels uploaded by those updates
    destroyed: int = 0


@dataclass
class _SavedState:
    blend: bool
    depth_test: bool
    cull_face: bool
    scissor_test: bool
    blend_func: tuple[int, int, int, int]
    blend_equation: tuple[int, int]
    viewport: tuple[int, int, int, int]
    scissor: tuple[int, int, int, int]
    wireframe: bool


class _StateQuery:
    """Reads back the GL state the renderer changes, through the context's own loader.

    moderngl can set blend/enable state but not read it back. The function pointers come from
    the glcontext loader moderngl itself uses; where that is unavailable (a custom loader), the
    state is assumed to be moderngl's defaults (nothing enabled, default blending).
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self._is_enabled = None
        self._get_integerv = None
        loader = getattr(getattr(ctx.mglo, "_context", None), "load_opengl_function", None)
        if loader is None:
            return
        try:
            is_enabled, get_integerv = loader("glIsEnabled"), loader("glGetIntegerv")
        except Exception:
            return
        if is_enabled and get_integerv:
            self._is_enabled = ctypes.CFUNCTYPE(ctypes.c_ubyte, ctypes.c_uint)(is_enabled)
            self._get_integerv = ctypes.CFUNCTYPE(
                None, ctypes.c_uint, ctypes.POINTER(ctypes.c_int)
            )(get_integerv)

    def enabled(self, cap: int, default: bool = False) -> bool:
        return bool(self._is_enabled(cap)) if self._is_enabled is not None else default

    def integer(self, pname: int, default: int) -> int:
        if self._get_integerv is None:
            return default
        value = ctypes.c_int(default)
        self._get_integerv(pname, ctypes.byref(value))
        return value.value

    def save(self, ctx: moderngl.Context) -> _SavedState:
        src_a, dst_a = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        return _SavedState(
            blend=self.enabled(_GL_BLEND),
            depth_test=self.enabled(_GL_DEPTH_TEST),
            cull_face=self.enabled(_GL_CULL_FACE),
            scissor_test=self.enabled(_GL_SCISSOR_TEST),
            blend_func=(
                self.integer(_GL_BLEND_SRC_RGB, src_a),
                self.integer(_GL_BLEND_DST_RGB, dst_a),
                self.integer(_GL_BLEND_SRC_ALPHA, src_a),
                self.integer(_GL_BLEND_DST_ALPHA, dst_a),
            ),
            blend_equation=(
                self.integer(_GL_BLEND_EQUATION_RGB, moderngl.FUNC_ADD),
                self.integer(_GL_BLEND_EQUATION_ALPHA, moderngl.FUNC_ADD),
            ),
            viewport=_rect(ctx.viewport),
            scissor=_rect(ctx.scissor or ctx.viewport),
            wireframe=bool(ctx.wireframe),
        )


def _rect(r: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = r
    return (int(x), int(y), int(w), int(h))


def _restore(ctx: moderngl.Context, s: _SavedState) -> None:
    for flag, on in (
        (moderngl.BLEND, s.blend),
        (moderngl.DEPTH_TEST, s.depth_test),
        (moderngl.CULL_FACE, s.cull_face),
    ):
        if on:
            ctx.enable(flag)
        else:
            ctx.disable(flag)
    # moderngl accepts 4- and 2-tuples here (separate RGB / alpha); its stubs say otherwise.
    ctx.blend_func = s.blend_func  # type: ignore[assignment]
    ctx.blend_equation = s.blend_equation  # type: ignore[assignment]
    ctx.viewport = s.viewport
    ctx.scissor = s.scissor if s.scissor_test else None
    ctx.wireframe = s.wireframe


def _vector_bytes(vec, itemsize: int) -> bytes:
    """Copy an ImVector's storage (vtx_buffer / idx_buffer) into Python bytes."""
    n = vec.size()
    return ctypes.string_at(vec.data_address(), n * itemsize) if n else b""


class ImguiRenderer:
    """Draws ImGui draw data into the currently bound moderngl framebuffer."""

    def __init__(self, ctx: moderngl.Context) -> None:
        if imgui.get_current_context() is None:
            raise RuntimeError("ImguiRenderer needs an ImGui context: call imgui.create_context()")
        self.ctx = ctx
        self.stats = TextureStats()
        self._textures: dict[int, moderngl.Texture] = {}  # tex id -> texture (ours and users')
        self._owned: set[int] = set()  # ids of the textures this renderer created
        self._next_id = 1
        self._released = False
        self._state = _StateQuery(ctx)

        io = imgui.get_io()
        io.backend_flags |= (
            imgui.BackendFlags_.renderer_has_textures | imgui.BackendFlags_.renderer_has_vtx_offset
        )

        self.program = load_program(ctx, "imgui")
        self._u_scale = self._uniform("u_scale")
        self._u_translate = self._uniform("u_translate")
        self._uniform("u_texture").value = 0
        self._vbo = ctx.buffer(reserve=imgui.VERTEX_SIZE * 4096, dynamic=True)
        self._ibo = ctx.buffer(reserve=4 * 8192, dynamic=True)
        self._vao = ctx.vertex_array(
            self.program,
            [(self._vbo, _VERTEX_FORMAT, "in_pos", "in_uv", "in_color")],
            index_buffer=self._ibo,
            index_element_size=4,
        )

    def _uniform(self, name: str) -> moderngl.Uniform:
        member = self.program[name]
        assert isinstance(member, moderngl.Uniform), name
        return member

    # ------------------------------------------------------------------ user textures

    def register_texture(self, texture: moderngl.Texture) -> int:
        """Make `texture` drawable with `imgui.image(imgui.ImTextureRef(id), size)`.

        The caller keeps ownership: release() does not free it. Returns the ImTextureID.
        """
        tex_id = self._new_id()
        self._textures[tex_id] = texture
        return tex_id

    def unregister_texture(self, tex_id: int) -> None:
        if tex_id in self._owned:
            raise ValueError(f"texture id {tex_id} belongs to ImGui, not to the caller")
        self._textures.pop(tex_id, None)

    def get_texture(self, tex_id: int) -> moderngl.Texture | None:
        """The moderngl texture behind an ImTextureID (ImGui's own or a registered one)."""
        return self._textures.get(int(tex_id))

    @property
    def owned_texture_ids(self) -> frozenset[int]:
        """Ids of the textures created for ImGui (font atlas pages)."""
        return frozenset(self._owned)

    # ------------------------------------------------------------------ texture protocol

    def _new_id(self) -> int:
        tex_id = self._next_id
        self._next_id += 1
        return tex_id

    def update_textures(self, draw_data: imgui.ImDrawData) -> None:
        """Serve every texture request in `draw_data.textures` (done by render() first)."""
        textures = draw_data.textures
        if textures is None:
            return
        for i in range(textures.size()):
            tex = textures[i]
            if tex.status != _Status.ok:
                self._update_texture(tex)

    def _update_texture(self, tex: imgui.ImTextureData) -> None:
        status = tex.status
        if status == _Status.want_create:
            self._create_texture(tex)
        elif status == _Status.want_updates:
            gl_tex = self._textures.get(tex.tex_id) if tex.tex_id in self._owned else None
            if gl_tex is None or gl_tex.size != (tex.width, tex.height):
                self._create_texture(tex)  # unknown to us (e.g. a new renderer): upload it all
            else:
                self._upload_rects(tex, gl_tex)
        elif status == _Status.want_destroy and tex.unused_frames > 0:
            self._destroy_texture(tex)

    @staticmethod
    def _components(tex: imgui.ImTextureData) -> int:
        if tex.format == imgui.ImTextureFormat.rgba32:
            return 4
        if tex.format == imgui.ImTextureFormat.alpha8:
            return 1
        raise ValueError(f"unsupported ImGui texture format {tex.format!r}")

    def _pixels(self, tex: imgui.ImTextureData) -> np.ndarray:
        """The texture's CPU pixels as a [H, W, C] uint8 view (row 0 = top = GL row 0)."""
        comps = self._components(tex)
        assert tex.bytes_per_pixel == comps, (tex.bytes_per_pixel, comps)
        return tex.get_pixels_array().reshape(tex.height, tex.width, comps)

    def _create_texture(self, tex: imgui.ImTextureData) -> None:
        old = int(tex.tex_id)
        if old in self._owned:
            self._release_owned(old)
        pixels = self._pixels(tex)
        comps = pixels.shape[2]
        # ImGui's uv (0, 0) is the first row in memory; uploading rows as they are puts that row
        # at GL texture row 0 = v 0, so no flip is needed anywhere.
        gl_tex = self.ctx.texture((tex.width, tex.height), comps, data=pixels, alignment=1)
        if comps == 1:
            gl_tex.swizzle = "111R"  # Alpha8: white glyphs, coverage in alpha
        gl_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        gl_tex.repeat_x = gl_tex.repeat_y = False
        tex_id = self._new_id()
        self._textures[tex_id] = gl_tex
        self._owned.add(tex_id)
        tex.set_tex_id(tex_id)
        tex.set_status(_Status.ok)
        self.stats.created += 1

    def _upload_rects(self, tex: imgui.ImTextureData, gl_tex: moderngl.Texture) -> None:
        pixels = self._pixels(tex)
        rects = tex.updates
        boxes = [rects[i] for i in range(rects.size())] or [tex.update_rect]
        for r in boxes:
            x, y, w, h = int(r.x), int(r.y), int(r.w), int(r.h)
            if w <= 0 or h <= 0:
                continue
            region = np.ascontiguousarray(pixels[y : y + h, x : x + w])
            gl_tex.write(region, viewport=(x, y, w, h), alignment=1)
            self.stats.update_rects += 1
            self.stats.update_pixels += w * h
        tex.set_status(_Status.ok)
        self.stats.updated += 1

    def _destroy_texture(self, tex: imgui.ImTextureData) -> None:
        tex_id = int(tex.tex_id)
        if tex_id in self._owned:
            self._release_owned(tex_id)
        tex.set_tex_id(_INVALID_ID)
        tex.set_status(_Status.destroyed)
        self.stats.destroyed += 1

    def _release_owned(self, tex_id: int) -> None:
        self._owned.discard(tex_id)
        gl_tex = self._textures.pop(tex_id, None)
        if gl_tex is not None:
            gl_tex.release()

    # ------------------------------------------------------------------ drawing

    def _upload_geometry(self, draw_data: imgui.ImDrawData) -> list[tuple]:
        """Concatenate all draw lists into one vertex and one 32-bit index buffer.

        Each list's indices are rebased by the vertices before it (and by a command's
        vtx_offset, which is how RendererHasVtxOffset is honoured without base-vertex draws).
        Returns (clip_rect, tex_id, first_index, index_count) per draw command.
        """
        vtx_chunks: list[bytes] = []
        idx_chunks: list[np.ndarray] = []
        draws: list[tuple] = []
        idx_dtype = np.uint16 if imgui.INDEX_SIZE == 2 else np.uint32
        vtx_base = idx_base = 0
        lists = draw_data.cmd_lists
        for i in range(lists.size()):
            cl = lists[i]
            n_vtx, n_idx = cl.vtx_buffer.size(), cl.idx_buffer.size()
            vtx_chunks.append(_vector_bytes(cl.vtx_buffer, imgui.VERTEX_SIZE))
            raw = _vector_bytes(cl.idx_buffer, imgui.INDEX_SIZE)
            idx = np.frombuffer(raw, dtype=idx_dtype).astype(np.uint32)  # [n_idx]
            idx += vtx_base
            cmds = cl.cmd_buffer
            for j in range(cmds.size()):
                cmd = cmds[j]
                count = int(cmd.elem_count)
                if count == 0:
                    continue
                first = int(cmd.idx_offset)
                if cmd.vtx_offset:
                    idx[first : first + count] += np.uint32(cmd.vtx_offset)
                draws.append((cmd.clip_rect, int(cmd.get_tex_id()), idx_base + first, count))
            idx_chunks.append(idx)
            vtx_base += n_vtx
            idx_base += n_idx
        if not draws:
            return draws
        vtx = b"".join(vtx_chunks)
        idx_all = np.concatenate(idx_chunks)
        for buf, data in ((self._vbo, vtx), (self._ibo, idx_all)):
            nbytes = len(data) if isinstance(data, bytes) else data.nbytes
            if nbytes > buf.size:
                buf.orphan(1 << (nbytes - 1).bit_length())  # grow to the next power of two
            buf.write(data)
        return draws

    def render(self, draw_data: imgui.ImDrawData) -> None:
        """Serve texture requests, then draw `draw_data` into the bound framebuffer."""
        if self._released:
            raise RuntimeError("ImguiRenderer.render() after release()")
        self.update_textures(draw_data)

        dpos, dsize, scale = (
            draw_data.display_pos,
            draw_data.display_size,
            draw_data.framebuffer_scale,
        )
        fb_w, fb_h = int(dsize.x * scale.x), int(dsize.y * scale.y)
        if fb_w <= 0 or fb_h <= 0 or draw_data.total_idx_count == 0:
            return
        if self.ctx.fbo is None:
            raise RuntimeError("ImguiRenderer.render() needs a bound framebuffer (fbo.use())")
        draws = self._upload_geometry(draw_data)
        if not draws:
            return

        ctx = self.ctx
        saved = self._state.save(ctx)
        try:
            ctx.enable(moderngl.BLEND)
            ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            ctx.blend_equation = moderngl.FUNC_ADD  # type: ignore[assignment]
            # Straight alpha, as imgui_impl_opengl3: colour = src * a + dst * (1 - a);
            # alpha accumulates as a + dst_a * (1 - a) so an offscreen target gets usable alpha.
            ctx.blend_func = (  # type: ignore[assignment]
                moderngl.SRC_ALPHA,
                moderngl.ONE_MINUS_SRC_ALPHA,
                moderngl.ONE,
                moderngl.ONE_MINUS_SRC_ALPHA,
            )
            ctx.wireframe = False
            ctx.viewport = (0, 0, fb_w, fb_h)
            sx = 2.0 / dsize.x
            sy = -2.0 / dsize.y
            self._u_scale.value = (sx, sy)
            self._u_translate.value = (-1.0 - dpos.x * sx, 1.0 - dpos.y * sy)

            bound = None
            for clip, tex_id, first, count in draws:
                # Clip rect: display coords -> framebuffer pixels, then to GL's bottom-left origin.
                x0 = max((clip.x - dpos.x) * scale.x, 0.0)
                y0 = max((clip.y - dpos.y) * scale.y, 0.0)
                x1 = min((clip.z - dpos.x) * scale.x, float(fb_w))
                y1 = min((clip.w - dpos.y) * scale.y, float(fb_h))
                if x1 <= x0 or y1 <= y0:
                    continue
                texture = self._textures.get(tex_id)
                if texture is None:
                    raise KeyError(
                        f"ImGui draw command uses texture id {tex_id}, unknown to this renderer "
                        "(register user textures with register_texture())"
                    )
                if texture is not bound:
                    texture.use(0)
                    bound = texture
                ctx.scissor = (int(x0), int(fb_h - y1), int(x1 - x0), int(y1 - y0))
                self._vao.render(moderngl.TRIANGLES, vertices=count, first=first)
        finally:
            _restore(ctx, saved)

    # ------------------------------------------------------------------ teardown

    def release(self) -> None:
        """Free every GL object this renderer created; user textures are left alone.

        If an ImGui context is current, its textures are marked Destroyed (so a new renderer
        would be asked to create them again) and the backend flags are withdrawn.
        """
        if self._released:
            return
        self._released = True
        if imgui.get_current_context() is not None:
            textures = imgui.get_platform_io().textures
            for i in range(textures.size()):
                tex = textures[i]
                if int(tex.tex_id) in self._owned:
                    tex.set_tex_id(_INVALID_ID)
                    tex.set_status(_Status.destroyed)
            io = imgui.get_io()
            io.backend_flags &= ~(
                imgui.BackendFlags_.renderer_has_textures
                | imgui.BackendFlags_.renderer_has_vtx_offset
            )
        for tex_id in list(self._owned):
            self._release_owned(tex_id)
        self._textures.clear()
        for obj in (self._vao, self._vbo, self._ibo, self.program):
            obj.release()
