"""Dear ImGui on moderngl, headless (EGL): the 1.92 texture protocol, pixels, GL hygiene; and
the io glue that feeds ImGui from moderngl-window events.

Set LLMVIZ_IMGUI_SCREENSHOT=/path.png to save the main test frame for a look.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager

import moderngl
import numpy as np
import pytest
from imgui_bundle import imgui
from moderngl_window.context.glfw.keys import Keys as GlfwKeys
from moderngl_window.context.headless.keys import Keys as HeadlessKeys

from llmviz_desktop.render.context import headless_context
from llmviz_desktop.render.imgui_renderer import ImguiRenderer
from llmviz_desktop.ui.imgui_input import ImguiInput, build_keymap, load_default_font

W, H = 400, 300
WIN_POS, WIN_SIZE = (40, 50), (240, 170)
Status = imgui.ImTextureStatus


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def gl():
    ctx = headless_context()  # no EGL: GLUnavailable, a failure (never a skip)
    yield ctx
    ctx.release()


@pytest.fixture(autouse=True)
def _no_gl_errors(request):
    if "gl" in request.fixturenames:
        ctx = request.getfixturevalue("gl")
        assert ctx.error == "GL_NO_ERROR"
        yield
        assert ctx.error == "GL_NO_ERROR"
    else:
        yield


@contextmanager
def imgui_session(display=(W, H), fb_scale=1.0, tex_format=None):
    """A fresh ImGui context (no imgui.ini), made current, destroyed afterwards."""
    previous = imgui.get_current_context()
    context = imgui.create_context()
    imgui.set_current_context(context)
    io = imgui.get_io()
    io.set_ini_filename("")
    io.display_size = imgui.ImVec2(*display)
    io.display_framebuffer_scale = imgui.ImVec2(fb_scale, fb_scale)
    io.delta_time = 1 / 60
    if tex_format is not None:
        io.fonts.tex_desired_format = tex_format
    load_default_font(16.0)
    try:
        yield context
    finally:
        imgui.destroy_context(context)
        if previous is not None:
            imgui.set_current_context(previous)


class GLCounter:
    """Counts live GL names (glIs*) — an independent check on leaks."""

    KINDS = ("glIsTexture", "glIsBuffer", "glIsVertexArray", "glIsProgram")

    def __init__(self, ctx, names=4096):
        load = ctx.mglo._context.load_opengl_function
        proto = ctypes.CFUNCTYPE(ctypes.c_ubyte, ctypes.c_uint)
        self.funcs = {k: proto(load(k)) for k in self.KINDS}
        self.get_programiv = ctypes.CFUNCTYPE(
            None, ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_int)
        )(load("glGetProgramiv"))
        self.names = names

    def live_program(self, name):
        # A deleted program that is still current only carries GL_DELETE_STATUS until unbound.
        if not self.funcs["glIsProgram"](name):
            return False
        status = ctypes.c_int(0)
        self.get_programiv(name, 0x8B80, ctypes.byref(status))
        return not status.value

    def __call__(self):
        counts = {k: sum(f(n) for n in range(1, self.names)) for k, f in self.funcs.items()}
        counts["glIsProgram"] = sum(self.live_program(n) for n in range(1, self.names))
        return counts


class GLQuery:
    def __init__(self, ctx):
        load = ctx.mglo._context.load_opengl_function
        self._is = ctypes.CFUNCTYPE(ctypes.c_ubyte, ctypes.c_uint)(load("glIsEnabled"))
        self._get = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.POINTER(ctypes.c_int))(
            load("glGetIntegerv")
        )

    def enabled(self, cap):
        return bool(self._is(cap))

    def ints(self, pname, n=1):
        out = (ctypes.c_int * 4)()
        self._get(pname, out)
        return tuple(out[:n])


def render_frame(renderer, fbo, build, size=(W, H)):
    """One ImGui frame: `build()` inside a fixed window; returns (image [H, W, 4] top row
    first, the window rect, whatever build returned)."""
    imgui.new_frame()
    imgui.set_next_window_pos(imgui.ImVec2(*WIN_POS))
    imgui.set_next_window_size(imgui.ImVec2(*WIN_SIZE))
    imgui.begin("Panel")
    p, s = imgui.get_window_pos(), imgui.get_window_size()
    window = (p.x, p.y, p.x + s.x, p.y + s.y)
    info = build()
    imgui.end()
    imgui.render()
    fbo.use()
    fbo.clear(0.0, 0.0, 0.0, 0.0)
    renderer.render(imgui.get_draw_data())
    assert renderer.ctx.error == "GL_NO_ERROR"
    image = np.frombuffer(fbo.read(components=4), np.uint8).reshape(size[1], size[0], 4)
    return image[::-1], window, info  # GL rows are bottom-up


def item_rect():
    a, b = imgui.get_item_rect_min(), imgui.get_item_rect_max()
    return (a.x, a.y, b.x, b.y)


def crop(image, rect, scale=1.0):
    x0, y0, x1, y1 = (int(round(v * scale)) for v in rect)
    return image[y0:y1, x0:x1]


def bright(pixels):
    return pixels[..., :3].min(axis=-1) > 160  # white text over a dark window


def outside(image, rect, margin=2, scale=1.0):
    x0, y0, x1, y1 = (int(round(v * scale)) for v in rect)
    mask = np.ones(image.shape[:2], bool)
    mask[max(y0 - margin, 0) : y1 + margin, max(x0 - margin, 0) : x1 + margin] = False
    return image[mask]


def texts_and_button():
    imgui.text("Hello ImGui 123")
    text = item_rect()
    imgui.button("Press me")
    button = item_rect()
    return {"text": text, "button": button}


def assert_glyph_l_upright(pixels):
    """A big 'L': widest row at the bottom, tallest column at the left (catches any flip)."""
    ys, xs = np.nonzero(bright(pixels))
    assert len(ys) > 50, "no glyph drawn"
    glyph = bright(pixels)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    rows, cols = glyph.sum(axis=1), glyph.sum(axis=0)
    assert np.argmax(rows) > 0.75 * (len(rows) - 1), rows
    assert np.argmax(cols) < 0.5 * len(cols), cols


def assert_all_textures_ok(renderer):
    textures = imgui.get_platform_io().textures
    live = [textures[i] for i in range(textures.size())]
    live = [t for t in live if t.status != Status.destroyed]
    assert live
    for t in live:
        assert t.status == Status.ok
        gl_tex = renderer.get_texture(t.tex_id)
        assert isinstance(gl_tex, moderngl.Texture)
        assert gl_tex.size == (t.width, t.height)
        assert t.tex_id in renderer.owned_texture_ids
    return live


@pytest.fixture(scope="module")
def target(gl):
    """One 400x300 RGBA8 framebuffer for the module (releasing a bound framebuffer would leave
    moderngl rebinding a deleted name)."""
    fbo = gl.framebuffer(color_attachments=[gl.texture((W, H), 4)])
    yield fbo
    fbo.color_attachments[0].release()
    fbo.release()


@pytest.fixture(scope="module")
def ui(gl, target):
    """The module's ImGui context and renderer, drawing into `target`."""
    with imgui_session():
        renderer = ImguiRenderer(gl)
        yield renderer, target
        renderer.release()


# ---------------------------------------------------------------- renderer


@pytest.mark.gl
def test_backend_flags_and_font_atlas_created_through_protocol(ui):
    renderer, fbo = ui
    flags = imgui.get_io().backend_flags
    assert flags & imgui.BackendFlags_.renderer_has_textures
    assert flags & imgui.BackendFlags_.renderer_has_vtx_offset
    render_frame(renderer, fbo, texts_and_button)
    assert renderer.stats.created >= 1
    (atlas,) = assert_all_textures_ok(renderer)
    assert renderer.get_texture(atlas.tex_id).components == 4  # RGBA32 atlas


@pytest.mark.gl
def test_text_and_button_drawn_inside_the_window_only(ui):
    renderer, fbo = ui
    image, window, rects = render_frame(renderer, fbo, texts_and_button)
    assert window == (40, 50, 40 + WIN_SIZE[0], 50 + WIN_SIZE[1])
    assert not outside(image, window).any(), "pixels drawn outside the window"
    assert image[int(window[1]) + 60, int(window[0]) + 200, 3] == 255  # opaque window body

    text = bright(crop(image, rects["text"]))
    assert text.sum() > 100 and text.any(axis=1).sum() >= 8, "text missing"
    assert not bright(
        crop(image, (window[0] + 8, rects["button"][3] + 8, window[2] - 8, window[3] - 20))
    ).any()

    # Button: its colour blended over the window background with straight alpha.
    style = imgui.get_style()
    bg, btn = style.color_(imgui.Col_.window_bg), style.color_(imgui.Col_.button)
    under = np.array([bg.x, bg.y, bg.z]) * bg.w  # window bg over a cleared (0, 0, 0, 0) target
    expect_rgb = np.array([btn.x, btn.y, btn.z]) * btn.w + under * (1 - btn.w)
    expect_a = btn.w + bg.w * (1 - btn.w)
    bx0, by0, bx1, by1 = rects["button"]
    pixel = image[int((by0 + by1) / 2), int(bx0) + 2].astype(float) / 255
    np.testing.assert_allclose(pixel[:3], expect_rgb, atol=2.5 / 255)
    assert abs(pixel[3] - expect_a) <= 2.5 / 255


@pytest.mark.gl
def test_new_font_sizes_update_the_texture_and_render(ui):
    renderer, fbo = ui
    before = (renderer.stats.created, renderer.stats.updated)

    def small_new_glyphs():
        imgui.push_font(None, 22.0)
        imgui.text("Zebra quiz 987")
        imgui.pop_font()
        return item_rect()

    image, window, rect = render_frame(renderer, fbo, small_new_glyphs)
    assert renderer.stats.updated > before[1], "new glyphs should arrive as a partial update"
    atlas = assert_all_textures_ok(renderer)[0]
    assert 0 < renderer.stats.update_pixels < atlas.width * atlas.height
    assert bright(crop(image, rect)).sum() > 150

    def big_l():
        texts_and_button()
        imgui.push_font(None, 64.0)
        imgui.text("L")
        imgui.pop_font()
        return item_rect()

    image, window, rect = render_frame(renderer, fbo, big_l)
    assert (renderer.stats.created, renderer.stats.updated) > before
    assert_all_textures_ok(renderer)
    assert_glyph_l_upright(crop(image, rect))
    assert not outside(image, window).any()
    if path := os.environ.get("LLMVIZ_IMGUI_SCREENSHOT"):
        from PIL import Image

        Image.fromarray(image).save(path)


@pytest.mark.gl
def test_user_texture_is_drawn_and_unknown_ids_are_refused(ui, gl):
    renderer, fbo = ui
    orange = np.array([255, 128, 0, 255], np.uint8)
    tex = gl.texture((2, 2), 4, data=np.tile(orange, 4).tobytes())
    tex_id = renderer.register_texture(tex)
    assert tex_id not in renderer.owned_texture_ids
    try:

        def image_widget():
            imgui.image(imgui.ImTextureRef(tex_id), imgui.ImVec2(32, 32))
            return item_rect()

        image, _, rect = render_frame(renderer, fbo, image_widget)
        x0, y0, x1, y1 = (int(v) for v in rect)
        np.testing.assert_array_equal(image[y0 + 16, x0 + 16], orange)
    finally:
        renderer.unregister_texture(tex_id)
        tex.release()

    with pytest.raises(KeyError, match="unknown"):
        render_frame(renderer, fbo, lambda: imgui.image(imgui.ImTextureRef(987654), (8, 8)))


@pytest.mark.gl
@pytest.mark.parametrize("scissor", [(3, 4, 50, 60), None])
def test_gl_state_is_restored(ui, gl, scissor):
    renderer, fbo = ui
    q = GLQuery(gl)
    fbo.use()
    gl.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
    gl.disable(moderngl.BLEND)
    gl.blend_func = (moderngl.ONE, moderngl.ZERO, moderngl.ZERO, moderngl.ONE)
    gl.blend_equation = moderngl.FUNC_SUBTRACT
    gl.viewport = (0, 0, 200, 150)
    gl.scissor = scissor
    try:
        imgui.new_frame()
        texts_and_button()
        imgui.render()
        renderer.render(imgui.get_draw_data())
        assert q.enabled(0x0B71) and q.enabled(0x0B44)  # depth test, cull face
        assert not q.enabled(0x0BE2)  # blend
        assert q.enabled(0x0C11) == (scissor is not None)
        if scissor is not None:
            assert q.ints(0x0C10, 4) == scissor
        assert q.ints(0x0BA2, 4) == (0, 0, 200, 150)  # viewport
        funcs = tuple(q.ints(e)[0] for e in (0x80C9, 0x80C8, 0x80CB, 0x80CA))
        assert funcs == (moderngl.ONE, moderngl.ZERO, moderngl.ZERO, moderngl.ONE)
        assert q.ints(0x8009)[0] == moderngl.FUNC_SUBTRACT
    finally:
        gl.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        gl.blend_func = moderngl.DEFAULT_BLENDING
        gl.blend_equation = moderngl.FUNC_ADD
        gl.viewport = (0, 0, W, H)
        gl.scissor = None


@pytest.mark.gl
def test_gl_objects_do_not_grow_and_release_frees_them(gl, target):
    count = GLCounter(gl)
    fbo = target
    baseline = count()
    with imgui_session():
        renderer = ImguiRenderer(gl)

        def counter(i):
            return lambda: imgui.text(f"frame {i} 0123456789") or imgui.button(f"n={i % 7}")

        render_frame(renderer, fbo, counter(0))
        warm = count()
        assert warm["glIsTexture"] == baseline["glIsTexture"] + 1  # the atlas
        assert warm["glIsProgram"] == baseline["glIsProgram"] + 1
        for i in range(1, 101):
            render_frame(renderer, fbo, counter(i))
        assert count() == warm
        renderer.release()
        assert count() == baseline
        renderer.release()  # idempotent

        # A new renderer on the same ImGui context is asked to create the atlas again.
        again = ImguiRenderer(gl)
        image, _, rect = render_frame(again, fbo, lambda: imgui.text("again") or item_rect())
        assert again.stats.created >= 1
        assert bright(crop(image, rect)).sum() > 30
        again.release()
        assert count() == baseline


@pytest.mark.gl
def test_atlas_growth_creates_new_pages_and_destroys_old_ones(gl, target):
    count = GLCounter(gl)
    baseline = count()["glIsTexture"]
    with imgui_session():
        renderer = ImguiRenderer(gl)

        def many_sizes(k):
            def build():
                for size in range(20 + 30 * k, 50 + 30 * k, 6):
                    imgui.push_font(None, float(size))
                    imgui.text("The quick brown fox 0123")
                    imgui.pop_font()

            return build

        for k in range(4):  # ~20 sizes of glyphs up to 140 px: the atlas must grow
            render_frame(renderer, target, many_sizes(k))
        for _ in range(4):  # old pages are destroyed once unused
            image, _, rect = render_frame(renderer, target, lambda: imgui.text("x") or item_rect())
        assert renderer.stats.created >= 2 and renderer.stats.destroyed >= 1
        (atlas,) = assert_all_textures_ok(renderer)
        assert atlas.width * atlas.height > 512 * 128
        assert renderer.owned_texture_ids == {atlas.tex_id}
        assert count()["glIsTexture"] == baseline + 1
        assert bright(crop(image, rect)).sum() > 5
        renderer.release()
    assert count()["glIsTexture"] == baseline


@pytest.mark.gl
def test_alpha8_atlas(gl, target):
    fbo = target
    with imgui_session(tex_format=imgui.ImTextureFormat.alpha8):
        renderer = ImguiRenderer(gl)
        image, window, rects = render_frame(renderer, fbo, texts_and_button)
        (atlas,) = assert_all_textures_ok(renderer)
        assert atlas.format == imgui.ImTextureFormat.alpha8
        assert renderer.get_texture(atlas.tex_id).components == 1
        text = crop(image, rects["text"])
        assert bright(text).sum() > 100
        assert np.ptp(text[bright(text)][:, :3], axis=-1).max() <= 2  # glyphs stay white (grey)

        def big_l():
            imgui.push_font(None, 64.0)
            imgui.text("L")
            imgui.pop_font()
            return item_rect()

        image, window, rect = render_frame(renderer, fbo, big_l)
        assert renderer.stats.updated + renderer.stats.created > 1
        assert_glyph_l_upright(crop(image, rect))
        renderer.release()


@pytest.mark.gl
def test_hidpi_framebuffer_scale(gl, target):
    fbo = target
    with imgui_session(display=(W // 2, H // 2), fb_scale=2.0):
        renderer = ImguiRenderer(gl)
        image, window, rects = render_frame(renderer, fbo, texts_and_button)
        assert not outside(image, window, scale=2.0).any()
        assert image[int(window[1] * 2) + 120, int(window[0] * 2) + 300, 3] == 255
        assert bright(crop(image, rects["text"], scale=2.0)).sum() > 300
        renderer.release()


# ---------------------------------------------------------------- io glue


@pytest.fixture
def glfw_keys():
    return GlfwKeys


@pytest.fixture
def io_session():
    with imgui_session():
        imgui.get_io().backend_flags |= imgui.BackendFlags_.renderer_has_textures  # no GL here
        yield


def mods(shift=False, ctrl=False, alt=False):
    from moderngl_window.context.base.keys import KeyModifiers

    m = KeyModifiers()
    m.shift, m.ctrl, m.alt = shift, ctrl, alt
    return m


def step(build=None):
    imgui.new_frame()
    result = build() if build else None
    io = imgui.get_io()
    seen = (io.mouse_wheel, io.mouse_wheel_h)
    imgui.end_frame()
    return result, seen


def test_keymap_covers_the_keys_panels_need(glfw_keys):
    keymap = build_keymap(glfw_keys)
    K, k = glfw_keys, imgui.Key
    expected = {
        K.TAB: k.tab,
        K.LEFT: k.left_arrow,
        K.RIGHT: k.right_arrow,
        K.UP: k.up_arrow,
        K.DOWN: k.down_arrow,
        K.PAGE_UP: k.page_up,
        K.PAGE_DOWN: k.page_down,
        K.HOME: k.home,
        K.END: k.end,
        K.INSERT: k.insert,
        K.DELETE: k.delete,
        K.BACKSPACE: k.backspace,
        K.SPACE: k.space,
        K.ENTER: k.enter,
        K.ESCAPE: k.escape,
    }
    expected.update({getattr(K, c): getattr(k, c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
    expected.update({getattr(K, f"NUMBER_{d}"): getattr(k, f"_{d}") for d in range(10)})
    expected.update({getattr(K, f"F{n}"): getattr(k, f"f{n}") for n in range(1, 13)})
    for code, key in expected.items():
        assert keymap[code] == key
    assert build_keymap(HeadlessKeys) == {}  # every key 'undefined': nothing mapped, no clash


def test_display_size_scale_and_delta_time(io_session):
    inp = ImguiInput()
    inp.resize(800, 600, 1600, 1200)
    inp.set_delta_time(0.0)
    io = imgui.get_io()
    assert (io.display_size.x, io.display_size.y) == (800, 600)
    assert (io.display_framebuffer_scale.x, io.display_framebuffer_scale.y) == (2, 2)
    assert io.delta_time > 0
    step()


def test_mouse_events(io_session):
    inp = ImguiInput()
    io = imgui.get_io()
    inp.mouse_position_event(100, 50, 3, 4)
    step()
    assert (io.mouse_pos.x, io.mouse_pos.y) == (100, 50)
    for button, index in ((1, 0), (2, 1), (3, 2)):
        inp.mouse_press_event(110, 60, button)
        step()
        assert io.mouse_down[index] and (io.mouse_pos.x, io.mouse_pos.y) == (110, 60)
        inp.mouse_release_event(110, 60, button)
        step()
        assert not io.mouse_down[index]
    inp.mouse_drag_event(120, 70, 10, 10)
    step()
    assert (io.mouse_pos.x, io.mouse_pos.y) == (120, 70)
    inp.mouse_scroll_event(0.5, -2.0)
    _, wheel = step()
    assert wheel == (-2.0, 0.5)
    _, wheel = step()
    assert wheel == (0.0, 0.0)


def test_key_events_and_modifiers(io_session, glfw_keys):
    K = glfw_keys
    inp = ImguiInput(K)
    io = imgui.get_io()
    inp.key_event(K.A, K.ACTION_PRESS, mods(ctrl=True))
    step()
    assert imgui.is_key_down(imgui.Key.a) and io.key_ctrl and not io.key_shift
    inp.key_event(K.A, K.ACTION_RELEASE, mods(ctrl=True))
    inp.key_event(K.LEFT_CTRL, K.ACTION_RELEASE, mods(ctrl=True))  # X11: mods from before
    step()
    assert not imgui.is_key_down(imgui.Key.a) and not io.key_ctrl
    inp.key_event(K.LEFT_SHIFT, K.ACTION_PRESS, mods())  # X11: shift not yet in mods
    step()
    assert io.key_shift
    inp.key_event(K.F5, K.ACTION_PRESS, mods(shift=True, alt=True))
    step()
    assert imgui.is_key_down(imgui.Key.f5) and io.key_alt and io.key_shift
    inp.key_event(K.F5, K.ACTION_RELEASE, mods())
    step()
    assert not imgui.is_key_down(imgui.Key.f5) and not io.key_shift and not io.key_alt


def test_text_input_and_capture(io_session, glfw_keys):
    inp = ImguiInput(glfw_keys)
    value = ""

    def panel(focus=False):
        nonlocal value
        imgui.set_next_window_pos(imgui.ImVec2(0, 0))
        imgui.set_next_window_size(imgui.ImVec2(200, 100))
        imgui.begin("Panel")
        if focus:
            imgui.set_keyboard_focus_here()
        _, value = imgui.input_text("##field", value)
        imgui.end()

    inp.mouse_position_event(500, 400)
    step(lambda: panel(focus=True))
    step(panel)
    step(panel)  # capture flags are computed in new_frame, from the previous frames
    assert inp.wants_keyboard()
    assert not inp.wants_mouse()
    for char in "hé":
        inp.unicode_char_entered(char)
    step(panel)
    step(panel)
    assert value == "hé"

    inp.mouse_position_event(50, 50)
    step(panel)
    step(panel)
    assert inp.wants_mouse()
    inp.mouse_leave_event()
    step(panel)
    assert not inp.wants_mouse()
