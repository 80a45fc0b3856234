"""The desktop window (moderngl-window): events -> state -> render. No maths of its own."""

from __future__ import annotations

import sys
import time as time_module
from dataclasses import asdict

import moderngl_window as mglw
import numpy as np

from .camera import Camera, fly
from .errors import contained
from .learning import Learning
from .pacing import FramePacer
from .picking import pick_box, pick_cell
from .render.context import GLUnavailable, check_version
from .render.frame import FrameRenderer
from .sampling import Sampling
from .settings import MAX_RECENT, Settings, load_settings, save_settings
from .state import AppState, camera_preset, input_problem, load_model, random_input
from .ui.headless import create_ui_context
from .ui.imgui_input import ImguiInput
from .ui.panels import draw_ui
from .walkthrough.chapters import load_chapters
from .walkthrough.player import Player
from .walkthrough.stage import Stage

# changed settings are saved this soon, not only at exit: a crash or a killed session keeps them
SETTINGS_EVERY_S = 2.0
ZOOM_STEP = 0.85  # distance factor per scroll notch
FLY_SECONDS = 0.6  # Home / R / F animate the camera over this long


class LlmvizWindow(mglw.WindowConfig):
    gl_version = (3, 3)
    title = "llmviz — a GPT, every number visible"
    window_size = (1280, 800)
    aspect_ratio = None  # type: ignore[assignment]  # the viewport follows the window
    resizable = True
    vsync = True
    model_spec = "nano-sort"  # set by the launcher before the window is created
    startup_settings = Settings()
    startup_warning: str | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        check_version(self.ctx)
        create_ui_context()
        self.input = ImguiInput(self.wnd.keys)
        self.input.resize(*self.wnd.size, *self.wnd.buffer_size)
        self.frame = FrameRenderer(self.ctx)
        width, height = self.wnd.buffer_size
        model = load_model(self.model_spec)
        self.state = AppState(model, camera_preset("overview", model.scene, width, height))
        self.state.width, self.state.height = width, height
        self.state.player = Player(load_chapters())
        self.state.learning = Learning()
        self.settings = self.startup_settings
        self._apply_settings(self.settings)
        self._saved = asdict(self.settings)
        self._saved_at = 0.0
        self._save_error = ""
        if self.startup_warning:
            self.state.status = self.startup_warning
        self.stage = Stage()
        self.rng = np.random.default_rng()
        self._drag_depth: float | None = None
        self._flight: tuple[Camera, Camera, float] | None = None  # start, end, start time
        self._time = 0.0
        self._mouse = (0.0, 0.0)
        self._press: tuple[float, float] | None = None  # where a left press started (click?)
        self._fps_frames, self._fps_time = 0, 0.0
        self.pacer = FramePacer()
        self.pacer.touch(time_module.perf_counter())  # the first frames settle fonts and panels
        self._iconified = False

    # ---- coordinates -----------------------------------------------------------------------

    def _px(self, x: float, y: float) -> tuple[float, float]:
        """Window coordinates -> framebuffer pixels (HiDPI)."""
        r = self.wnd.pixel_ratio
        return x * r, y * r

    def _hit(self, x: float, y: float):
        s = self.state
        eye, d = s.camera.ray(x, y, s.width, s.height)
        return pick_box(s.model.scene, eye, d)

    # ---- frame -----------------------------------------------------------------------------

    def _contained(self, where: str, fn, *args) -> None:
        """An exception in an animation or the training glue is shown, logged, survived."""
        if not contained(self.state.errors, where, fn, *args):
            if where == "walkthrough" and self.state.player is not None:
                self.state.player.playing = False

    def fly_to(self, end: Camera) -> None:
        """Animate the camera to `end` (a pure function of elapsed time: camera.fly)."""
        self._flight = (self.state.camera, end, self._time)

    def _stop_flight(self) -> None:
        self._flight = None

    def _animating(self) -> bool:
        """Something moves on its own: keep the full frame rate."""
        s = self.state
        learning, player, sup = s.learning, s.player, s.superposition
        return bool(
            self._flight is not None
            or self._press is not None
            or (player is not None and player.playing and player.active)
            or (
                learning is not None and learning.training is not None and learning.training.running
            )
            or (learning is not None and learning.replay is not None and learning.replay_playing)
            or (sup is not None and (sup.running or sup.busy))
        )

    def _pace(self, frame_start: float, hidden: bool = False) -> None:
        """Wait out the rest of this frame (see pacing.py). When idle or hidden, glfw's wait
        returns at the first input event, so the app answers at once rather than 100 ms later."""
        now = time_module.perf_counter()
        animating = not hidden and self._animating()
        wait = self.pacer.wait(frame_start, now, animating, hidden)
        self.state.idle = idle = self.pacer.idle(now, animating)
        if wait <= 0.0:
            return
        if (hidden or idle) and self.wnd.name == "glfw":
            import glfw

            glfw.wait_events_timeout(wait)
        else:
            time_module.sleep(wait)

    def _touch(self) -> None:
        self.pacer.touch(time_module.perf_counter())

    def on_iconify(self, iconified: bool) -> None:
        self._iconified = iconified
        self._touch()

    def on_render(self, time: float, frame_time: float) -> None:
        frame_start = time_module.perf_counter()
        self._time = time
        if self._flight is not None:
            start, end, t0 = self._flight
            progress = (time - t0) / FLY_SECONDS
            self.state.camera = fly(start, end, progress)
            if progress >= 1.0:
                self._flight = None
        self.input.set_delta_time(frame_time)
        if self._iconified or self.state.width == 0 or self.state.height == 0:
            self._pace(frame_start, hidden=True)  # minimised: draw nothing, do not spin the CPU
            return
        self._fps_frames += 1
        self._fps_time += frame_time
        if self._fps_time >= 0.5:
            self.state.fps = self._fps_frames / self._fps_time
            self._fps_frames, self._fps_time = 0, 0.0
        player = self.state.player
        if player is not None:
            player.advance(frame_time)
            if player.active and not player.free_camera:
                self._flight = None  # the walkthrough owns the camera
        self._contained("training", self.state.learning.update, self.state, time, frame_time)
        self._contained("walkthrough", self.stage.frame, self.state)
        self.wnd.use()
        actions = self.frame.render(self.state, draw_ui)
        if actions.load_model:
            self._switch_model(actions.load_model)
        if actions.reset_camera:
            self._reset_camera(animate=True)
        self._walk_actions(actions.walk)
        head = actions.analysis.fly_to_head
        if head is not None:  # a head's heatmap was clicked: fly to that head in 3D
            s = self.state
            boxes = [b for b in s.model.scene.boxes if (b.layer, b.head) == head]
            if boxes:
                lo = np.min([b.min_corner for b in boxes], axis=0)
                hi = np.max([b.max_corner for b in boxes], axis=0)
                if s.player is not None:
                    s.player.free_camera = True  # else the walkthrough takes the camera back
                self.fly_to(s.camera.framing(lo, hi, s.width, s.height, margin=1.3))
        learning = self.state.learning
        if learning is not None and actions.learn.start:
            learning.start_training(self.state)
        if learning is not None and actions.learn.open_dir:
            learning.open(actions.learn.open_dir, self.state)
        if time - self._saved_at >= SETTINGS_EVERY_S:
            self._saved_at = time
            self._save_if_changed()
        self._pace(frame_start)

    def _walk_actions(self, actions) -> None:
        s = self.state
        home = s.home
        text = actions.new_input
        if actions.random_input:
            text = random_input(home.config, self.rng)
        sampling = home.sampling
        if actions.sampling is not None:
            temperature, top_k, seed = actions.sampling
            sampling = Sampling(max(temperature, 0.0), top_k or None, seed)
        if text is None and sampling == home.sampling:
            return
        text = home.input_text if text is None else text.strip()
        if home.config.vocab is not None:
            text = text.upper()
        problem = input_problem(text, home.config)
        if problem:
            s.input_error = f"{text!r}: {problem}"
            return
        s.input_error = ""
        self._switch_model(home.name, text, sampling, keep_camera=True)

    def _switch_model(
        self, spec: str, text: str | None = None, sampling=None, keep_camera: bool = False
    ) -> None:
        try:
            home = self.state.home
            same = home is not None and spec == home.name
            model = load_model(
                spec,
                text if text is not None else (home.input_text if same else None),
                sampling if sampling is not None else (home.sampling if same else None),
            )
        except Exception as e:  # shown in the panel, the app keeps running
            said = str(e)  # errors name their file; the spec only when they do not
            self.state.status = (
                f"could not load: {said}" if spec in said else f"could not load {spec}: {said}"
            )
            return
        self.state.model = self.state.home = model
        self.state.status = ""
        self.state.pinned = None
        if not keep_camera:
            self._reset_camera()

    def _reset_camera(self, animate: bool = False) -> None:
        s = self.state
        home = camera_preset("overview", s.model.scene, s.width, s.height)
        if animate:
            self.fly_to(home)
        else:
            self._stop_flight()
            s.camera = home

    # ---- events ----------------------------------------------------------------------------

    def on_resize(self, width: int, height: int) -> None:
        self._touch()
        s = self.state
        old = (s.width, s.height)
        # an untouched overview is re-framed for the new size; a view the user chose is kept
        home = min(old) > 0 and s.camera == camera_preset("overview", s.model.scene, *old)
        s.width, s.height = self.wnd.buffer_size
        if home and min(s.width, s.height) > 0:
            s.camera = camera_preset("overview", s.model.scene, s.width, s.height)
        self.input.resize(width, height, *self.wnd.buffer_size)

    def on_mouse_position_event(self, x, y, dx, dy) -> None:
        self._touch()
        self.input.mouse_position_event(x, y, dx, dy)
        self._mouse = (x, y)
        self.state.mouse = None if self.input.wants_mouse() else self._px(x, y)

    def on_mouse_press_event(self, x, y, button) -> None:
        self._touch()
        self.input.mouse_press_event(x, y, button)
        if self.input.wants_mouse():
            return
        self._stop_flight()  # the user takes the camera back
        if self.state.player is not None:
            self.state.player.free_camera = True
        if button == 1:
            self._press = (x, y)
        if button == 1:  # remember the depth of the grabbed point so it stays under the cursor
            hit = self._hit(*self._px(x, y))
            cam = self.state.camera
            self._drag_depth = None
            if hit is not None:
                point = hit[1]
                self._drag_depth = float((point - cam.eye()) @ cam.forward())

    def on_mouse_release_event(self, x, y, button) -> None:
        self._touch()
        self.input.mouse_release_event(x, y, button)
        self._drag_depth = None
        press, self._press = self._press, None
        if button == 1 and press is not None and abs(x - press[0]) + abs(y - press[1]) < 4:
            self._click(x, y)  # a click, not a drag: pin or unpin the tooltip

    def _click(self, x: float, y: float) -> None:
        s = self.state
        if s.pinned is not None:
            s.pinned = None
            return
        hit = pick_cell(s.model.scene, s.camera, *self._px(x, y), s.width, s.height)
        s.pinned = hit

    def on_mouse_drag_event(self, x, y, dx, dy) -> None:
        self._touch()
        self.input.mouse_drag_event(x, y, dx, dy)
        self._mouse = (x, y)
        self.state.mouse = self._px(x, y)
        if self.input.wants_mouse():
            return
        s = self.state
        pdx, pdy = self._px(dx, dy)
        if self.wnd.mouse_states.left:
            s.camera = s.camera.panned(pdx, pdy, s.height, self._drag_depth)
        elif self.wnd.mouse_states.right:
            s.camera = s.camera.orbited(pdx, pdy)

    def on_mouse_scroll_event(self, x_offset: float, y_offset: float) -> None:
        self._touch()
        self.input.mouse_scroll_event(x_offset, y_offset)
        if self.input.wants_mouse() or y_offset == 0:
            return
        self._stop_flight()
        s = self.state
        if s.player is not None:
            s.player.free_camera = True
        mx, my = self._px(*self._mouse)
        hit = self._hit(mx, my)
        anchor = (
            hit[1] if hit is not None else s.camera.point_on_target_plane(mx, my, s.width, s.height)
        )
        s.camera = s.camera.zoomed(ZOOM_STEP ** float(np.sign(y_offset)), anchor)

    def on_unicode_char_entered(self, char: str) -> None:
        self._touch()
        self.input.unicode_char_entered(char)

    def on_key_event(self, key, action, modifiers) -> None:
        self._touch()
        self.input.key_event(key, action, modifiers)
        keys = self.wnd.keys
        if action != keys.ACTION_PRESS or self.input.wants_keyboard():
            return
        s = self.state
        player = s.player
        if key == keys.SPACE and player is not None and player.chapters.chapters:
            player.toggle()
        elif key == keys.RIGHT and player is not None and player.chapters.chapters:
            player.active = True
            player.next_step()
        elif key == keys.LEFT and player is not None and player.chapters.chapters:
            player.active = True
            player.prev_step()
        elif key in (keys.HOME, keys.R):
            if player is not None:
                player.free_camera = True
            self._reset_camera(animate=True)
        elif key == keys.H or (key == keys.SLASH and modifiers.shift):
            s.show_help = not s.show_help
        elif key == keys.L:
            s.show_labels = not s.show_labels
        elif key == keys.F:
            mx, my = self._px(*self._mouse)
            hit = self._hit(mx, my)
            if hit is not None:
                box = s.model.scene.boxes[hit[0]]
                lo, hi = np.array(box.min_corner), np.array(box.max_corner)
                self.fly_to(s.camera.framing(lo, hi, s.width, s.height, margin=1.3))
        elif key == keys.ESCAPE:
            if s.pinned is not None:
                s.pinned = None
            else:
                s.show_help = False

    def _apply_settings(self, s: Settings) -> None:
        st = self.state
        st.colors.symlog, st.colors.normalise = s.symlog, s.normalise
        if st.learning is not None:
            st.learning.recent = list(s.recent_checkpoints)
        player = st.player
        if player is not None and s.chapter:
            ids = [c.id for c in player.chapters.chapters]
            if s.chapter in ids:
                player.set_chapter(ids.index(s.chapter))
                player.goto_step(s.step)

    def _save_if_changed(self) -> None:
        """Write the settings when they differ from what is on disk; a failure (a full disk)
        is said once in the status line, and the previous file stays as it was."""
        current = asdict(self._current_settings())
        if current == self._saved:
            return
        try:
            save_settings(self.settings)
        except OSError as e:
            message = f"settings not saved ({e.strerror or e})"
            if message != self._save_error:
                self._save_error = self.state.status = message
            return
        self._saved, self._save_error = current, ""

    def _current_settings(self) -> Settings:
        st, s = self.state, self.settings
        s.window_width, s.window_height = self.wnd.size
        s.model = st.home.name if st.home is not None else s.model
        s.symlog, s.normalise = st.colors.symlog, st.colors.normalise
        player = st.player
        if player is not None and player.active and player.chapters.chapters:
            s.chapter, s.step = player.chapter.id, player.step
        if st.learning is not None:
            s.recent_checkpoints = st.learning.recent[:MAX_RECENT]
        return s

    def on_close(self) -> None:
        if self.state.superposition is not None:
            self.state.superposition.close()
        try:
            save_settings(self._current_settings())
        except OSError as e:
            print(f"llmviz: warning: settings not saved ({e.strerror})")
        if self.state.learning is not None and self.state.learning.training is not None:
            self.state.learning.training.stop()
        self.frame.release()


def run(model_spec: str | None = None, window: str = "glfw") -> int:
    """Open the window; 2 with a one-line message when no OpenGL 3.3 context can be had."""
    settings, warning = load_settings()
    if warning:
        print(f"llmviz: warning: {warning}")
    if model_spec is None:  # the last model used, if it still loads
        from .model.weights import WeightsError, resolve_model

        try:
            resolve_model(settings.model)
        except (WeightsError, ValueError) as e:
            print(f"llmviz: warning: last model unavailable ({e}); opening nano-sort")
            settings.model = "nano-sort"
    attrs = {
        "model_spec": model_spec or settings.model,
        "startup_settings": settings,
        "startup_warning": warning,
        # a window last shrunk to a sliver opens at a usable size
        "window_size": (max(settings.window_width, 480), max(settings.window_height, 320)),
    }
    LlvizConfig = type("LlvizConfig", (LlmvizWindow,), attrs)
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:  # glfw reports via warnings
            warnings.simplefilter("always")
            mglw.run_window_config(LlvizConfig, args=["--window", window])
    except GLUnavailable as e:
        print(f"llmviz: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the window system or driver refused: say so in one line
        text = (str(e).splitlines() or [type(e).__name__])[0]
        glfw_says = [str(w.message) for w in caught if "GLFW" in type(w.message).__name__]
        if glfw_says:
            text = f"{text}: {glfw_says[-1]}"
        words = ("opengl", "context", "glx", "egl", "display", "glfw", "create window")
        if any(w in text.lower() for w in words):
            print(
                f"llmviz: cannot open an OpenGL 3.3 window ({text}); check the display and "
                "the graphics driver (Mesa: libgl1-mesa-dri)",
                file=sys.stderr,
            )
            return 2
        raise
    return 0


__all__ = ["LlmvizWindow", "run", "Camera"]
