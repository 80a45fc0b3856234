"""The desktop window (moderngl-window): events -> state -> render. No maths of its own."""

from __future__ import annotations

import functools
import logging
import sys
import time as time_module
import warnings
from dataclasses import asdict
from typing import Any

import moderngl_window as mglw
import numpy as np

from ..model.sampling import Sampling
from ..model.tokenizer import TokenizerError
from ..render.context import MSAA_SAMPLES, GLUnavailable, check_version
from ..render.frame import FrameRenderer
from ..scene.camera import Camera, fly
from ..scene.framing import Rect, camera_preset, default_panels, frame_into, free_rect
from ..scene.picking import pick_box, pick_cell
from ..session.errors import contained, record, report
from ..session.frame import Frame
from ..session.learning import Learning
from ..session.loaded import LoadedModel, input_problem, load_model, random_input
from ..session.settings import MAX_RECENT, Settings, load_settings, save_settings, window_size
from ..session.state import AppState
from ..ui.headless import create_ui_context
from ..ui.imgui_input import ImguiInput
from ..ui.panels import draw_ui, end_abandoned_frame
from ..walkthrough.chapters import load_chapters
from ..walkthrough.player import Player
from .pacing import FramePacer
from .tick import Ticker, untouched_overview

# changed settings are saved this soon, not only at exit: a crash or a killed session keeps them
SETTINGS_EVERY_S = 2.0
ZOOM_STEP = 0.85  # distance factor per scroll notch
FLY_SECONDS = 0.6  # Home / R / F animate the camera over this long
FALLBACK_MODEL = "nano-sort"  # what the window opens on when the asked-for model fails
SHOWN_INPUT = 24  # a refused input is echoed up to this many characters


def load_failure(spec: str, e: Exception) -> str:
    """'could not load <spec>: <reason>', one line; errors that name their file already say
    where, so the spec is added only when they do not."""
    said = (str(e).splitlines() or [type(e).__name__])[0]
    return f"could not load: {said}" if spec in said else f"could not load {spec}: {said}"


def shortened(text: str) -> str:
    return repr(text if len(text) <= SHOWN_INPUT else text[: SHOWN_INPUT - 4] + "...")


def _contained_event(method):
    """A window event handler that raises is shown and logged like a panel; the app goes on
    (an exception escaping a glfw callback would end the main loop)."""

    @functools.wraps(method)
    def handler(self, *args):
        try:
            return method(self, *args)
        except Exception as e:
            record(self.state.messages.errors, "input", e)
            return None

    return handler


class LlmvizWindow(mglw.WindowConfig):
    gl_version = (3, 3)
    title = "llmviz — a GPT, every number visible"
    window_size = (1280, 800)
    aspect_ratio = None  # type: ignore[assignment]  # the viewport follows the window
    resizable = True
    vsync = True
    # 4x multisample anti-aliasing: glfw takes it as a hint (a driver without it gives a plain
    # framebuffer); a window system that refuses it outright is retried without (run)
    samples = MSAA_SAMPLES
    opened = False  # set once the window exists: a later failure is not retried
    log_level = logging.WARNING  # not moderngl-window's INFO lines about the context
    model_spec = "nano-sort"  # set by the launcher before the window is created
    model_from_settings = False  # model_spec is the last model used (settings.json)
    startup_settings = Settings()
    startup_warning: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # moderngl-window closes the window on Escape by default; here Esc unpins a tooltip,
        # leaves a text field or stops a camera flight. Ctrl+Q and the close button quit.
        self.wnd.exit_key = None
        type(self).opened = True
        check_version(self.ctx)
        create_ui_context()
        self.input = ImguiInput(self.wnd.keys)
        self.input.resize(*self.wnd.size, *self.wnd.buffer_size)
        self.frame = FrameRenderer(self.ctx)
        width, height = self.wnd.buffer_size
        model, problem = self._first_model(self.model_spec)
        camera = camera_preset("overview", model.scene, width, height)
        self.state = AppState.create(model, camera, width, height)
        self.state.view.framed_for = (
            width,
            height,
            free_rect(width, height, default_panels(width, height)),
        )
        self.state.controllers.player = Player(load_chapters())
        self.state.controllers.learning = Learning()
        self.settings = self.startup_settings
        self._apply_settings(self.settings)
        self._saved = asdict(self.settings)
        self._saved_at = 0.0
        self._save_error = ""
        self.state.messages.status = " · ".join(m for m in (problem, self.startup_warning) if m)
        self.ticker = Ticker()
        self.shown: Frame | None = None  # the frame drawn last: what the user sees
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

    def _first_model(self, spec: str) -> tuple[LoadedModel, str]:
        """The model to open on, and why it is not `spec` ('' when it is): a folder that does
        not load (given with --model, or remembered in the settings) opens nano-sort with the
        reason in the panel and one warning line, never a traceback."""
        try:
            return load_model(spec), ""
        except Exception as e:
            if spec == FALLBACK_MODEL:
                raise  # the shipped model itself: a broken installation, not user input
            why = load_failure(spec, e)
            if self.model_from_settings:
                why = f"last model: {why}"
            why += f"; showing {FALLBACK_MODEL}"
            print(f"llmviz: warning: {why}", file=sys.stderr)
            return load_model(FALLBACK_MODEL), why

    # ---- coordinates -----------------------------------------------------------------------

    def _px(self, x: float, y: float) -> tuple[float, float]:
        """Window coordinates -> framebuffer pixels (HiDPI)."""
        r = self.wnd.pixel_ratio
        return x * r, y * r

    def _shown_model(self) -> LoadedModel:
        """The model on screen: the last frame's (a walkthrough step may show its own)."""
        return self.shown.model if self.shown is not None else self.state.home

    def _hit(self, x: float, y: float):
        v = self.state.view
        eye, d = v.camera.ray(x, y, v.width, v.height)
        return pick_box(self._shown_model().scene, eye, d)

    # ---- frame -----------------------------------------------------------------------------

    def fly_to(self, end: Camera) -> None:
        """Animate the camera to `end` (a pure function of elapsed time: camera.fly)."""
        self._flight = (self.state.view.camera, end, self._time)

    def _stop_flight(self) -> None:
        self._flight = None

    def _animating(self) -> bool:
        """Something moves on its own: keep the full frame rate."""
        ctl = self.state.controllers
        learning, player, sup = ctl.learning, ctl.player, ctl.superposition
        return bool(
            self._flight is not None
            or self._press is not None
            or (player is not None and player.playing and player.active)
            or (
                learning is not None and learning.training is not None and learning.training.running
            )
            or (learning is not None and learning.replay is not None and learning.replay_playing)
            or (sup is not None and sup.animating)
        )

    def _pace(self, frame_start: float, hidden: bool = False) -> None:
        """Wait out the rest of this frame (see pacing.py). When idle or hidden, glfw's wait
        returns at the first input event, so the app answers at once rather than 100 ms later."""
        now = time_module.perf_counter()
        animating = not hidden and self._animating()
        wait = self.pacer.wait(frame_start, now, animating, hidden)
        self.state.stats.idle = idle = self.pacer.idle(now, animating)
        if wait <= 0.0:
            return
        if (hidden or idle) and self.wnd.name == "glfw":
            import glfw

            glfw.wait_events_timeout(wait)
        else:
            time_module.sleep(wait)

    def _touch(self) -> None:
        self.pacer.touch(time_module.perf_counter())

    @_contained_event
    def on_iconify(self, iconified: bool) -> None:
        self._iconified = iconified
        self._touch()

    def on_render(self, time: float, frame_time: float) -> None:
        """One frame. Each stage is contained (errors.contained): an exception in the camera
        flight, the walkthrough, training, drawing, the panels' actions, saving the settings
        or pacing is shown in the error panel and logged, and the next frame comes."""
        frame_start = time_module.perf_counter()
        self._time = time
        self.input.set_delta_time(frame_time)
        if not contained(self.state.messages.errors, "camera flight", self._fly, time):
            self._flight = None
        hidden = self._iconified or self.state.view.width == 0 or self.state.view.height == 0
        if not hidden:  # minimised: draw nothing, do not spin the CPU
            try:
                self._frame(time, frame_time)
            except Exception as e:  # anything the finer guards below did not catch
                end_abandoned_frame()
                record(self.state.messages.errors, "frame", e)
        if not contained(self.state.messages.errors, "pacing", self._pace, frame_start, hidden):
            time_module.sleep(1.0 / 60.0)  # never spin when pacing itself fails

    def _fly(self, time: float) -> None:
        if self._flight is not None:
            start, end, t0 = self._flight
            progress = (time - t0) / FLY_SECONDS
            self.state.view.camera = fly(start, end, progress)
            if progress >= 1.0:
                self._flight = None

    def _frame(self, time: float, frame_time: float) -> None:
        self._fps_frames += 1
        self._fps_time += frame_time
        if self._fps_time >= 0.5:
            self.state.stats.fps = self._fps_frames / self._fps_time
            self._fps_frames, self._fps_time = 0, 0.0
        player = self.state.controllers.player
        if player is not None and player.active and not player.free_camera:
            self._flight = None  # the walkthrough owns the camera
        frame = self.shown = self.ticker.tick(self.state, frame_time)
        self.wnd.use()
        drawn: list = []
        if not contained(self.state.messages.errors, "drawing", self._draw, frame, drawn):
            end_abandoned_frame()
        if drawn:
            contained(self.state.messages.errors, "controls", self._carry_out, drawn[0])
        if self.input.wants_mouse():
            # the mouse events saw the frame before's answer: a cursor that came to rest on a
            # panel would otherwise keep picking the scene behind it
            self.state.pointer.mouse = None
        if time - self._saved_at >= SETTINGS_EVERY_S:
            self._saved_at = time
            contained(self.state.messages.errors, "settings", self._save_if_changed)

    def _draw(self, frame: Frame, out: list) -> None:
        actions, self.state.stats.frame_ms = self.frame.render(
            frame.drawing, lambda: draw_ui(self.state, frame)
        )
        out.append(actions)

    def _carry_out(self, actions) -> None:
        """What the panels asked for this frame."""
        if actions.load_model:
            self._switch_model(actions.load_model)
        if actions.reset_camera:
            self._reset_camera(animate=True)
        self._walk_actions(actions.walk)
        head = actions.analysis.fly_to_head
        if head is not None:  # a head's heatmap was clicked: fly to that head in 3D
            s = self.state
            boxes = [b for b in self._shown_model().scene.boxes if (b.layer, b.head) == head]
            if boxes:
                lo = np.min([b.min_corner for b in boxes], axis=0)
                hi = np.max([b.max_corner for b in boxes], axis=0)
                if s.controllers.player is not None:
                    s.controllers.player.free_camera = (
                        True  # else the walkthrough takes the camera back
                    )
                self.fly_to(self._frame_boxes(lo, hi))
        learning = self.state.controllers.learning
        if learning is not None and actions.learn.start:
            learning.start_training(self.state.home)
        if learning is not None and actions.learn.open_dir:
            learning.open(actions.learn.open_dir, self.state.home)

    def _walk_actions(self, actions) -> None:
        s = self.state
        home = s.home
        if home is None:
            return
        if actions.leave:  # free exploration again: the user's model, from the overview
            self._reset_camera(animate=True)
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
        if problem:  # under the input field; a long paste is not echoed whole
            s.messages.input_error = f"{shortened(text)}: {problem}"
            return
        s.messages.input_error = ""
        self._switch_model(home.name, text, sampling, keep_camera=True, input_error=True)

    def _switch_model(
        self,
        spec: str,
        text: str | None = None,
        sampling=None,
        keep_camera: bool = False,
        input_error: bool = False,
    ) -> bool:
        """Load `spec` (with this input and sampling) and show it; False when it failed: the
        reason is in the model panel's status line, or under the input field when the typed
        input was refused (too many tokens for the context)."""
        try:
            home = self.state.home if spec == getattr(self.state.home, "name", None) else None
            model = load_model(
                spec,
                text if text is not None or home is None else home.input_text,
                sampling if sampling is not None or home is None else home.sampling,
            )
        except TokenizerError as e:
            if not input_error:
                self.state.messages.status = load_failure(spec, e)
            else:
                said = (str(e).splitlines() or [""])[0]
                self.state.messages.input_error = f"{shortened(text or '')}: {said}"
            return False
        except Exception as e:  # shown in the panel, the app keeps running
            self.state.messages.status = load_failure(spec, e)
            return False
        self.state.home = model
        self.state.messages.status = ""
        self.state.pointer.pinned = None
        if not keep_camera:
            self._reset_camera()
        return True

    def _free(self) -> Rect:
        """The free area between the panels: the last frame's, or (before one at this size)
        where the panels stand when the window opens."""
        v = self.state.view
        if (
            self.shown is not None
            and v.framed_for is not None
            and v.framed_for[:2]
            == (
                v.width,
                v.height,
            )
        ):
            return self.shown.free_area
        return free_rect(v.width, v.height, default_panels(v.width, v.height))

    def _overview(self) -> Camera:
        """The overview framed into the free area (app.tick keeps it framed while untouched)."""
        v = self.state.view
        free = self._free()
        v.framed_for = (v.width, v.height, free)
        return camera_preset("overview", self.state.home.scene, v.width, v.height, free=free)

    def _frame_boxes(self, lo, hi) -> Camera:
        """The current direction, moved to show lo..hi large in the free area."""
        v = self.state.view
        return frame_into(v.camera, lo, hi, v.width, v.height, self._free(), margin=1.3)

    def _reset_camera(self, animate: bool = False) -> None:
        s = self.state
        home = self._overview()
        if animate:
            self.fly_to(home)
        else:
            self._stop_flight()
            s.view.camera = home

    # ---- events ----------------------------------------------------------------------------

    @_contained_event
    def on_resize(self, width: int, height: int) -> None:
        self._touch()
        s = self.state
        # an untouched overview is re-framed for the new size; a view the user chose is kept
        # (app.tick then follows the panels to their new places)
        home = untouched_overview(s.view, s.home)
        s.view.width, s.view.height = self.wnd.buffer_size
        if home and min(s.view.width, s.view.height) > 0:
            s.view.camera = self._overview()
        self.input.resize(width, height, *self.wnd.buffer_size)

    @_contained_event
    def on_mouse_position_event(self, x, y, dx, dy) -> None:
        self._touch()
        self.input.mouse_position_event(x, y, dx, dy)
        self._mouse = (x, y)
        self.state.pointer.mouse = None if self.input.wants_mouse() else self._px(x, y)

    @_contained_event
    def on_mouse_press_event(self, x, y, button) -> None:
        self._touch()
        self.input.mouse_press_event(x, y, button)
        if self.input.wants_mouse():
            return
        self._stop_flight()  # the user takes the camera back
        if self.state.controllers.player is not None:
            self.state.controllers.player.free_camera = True
        if button == 1:
            self._press = (x, y)
        if button == 1:  # remember the depth of the grabbed point so it stays under the cursor
            hit = self._hit(*self._px(x, y))
            cam = self.state.view.camera
            self._drag_depth = None
            if hit is not None:
                point = hit[1]
                self._drag_depth = float((point - cam.eye()) @ cam.forward())

    @_contained_event
    def on_mouse_release_event(self, x, y, button) -> None:
        self._touch()
        self.input.mouse_release_event(x, y, button)
        self._drag_depth = None
        press, self._press = self._press, None
        if button == 1 and press is not None and abs(x - press[0]) + abs(y - press[1]) < 4:
            self._click(x, y)  # a click, not a drag: pin or unpin the tooltip

    def _click(self, x: float, y: float) -> None:
        s = self.state
        if s.pointer.pinned is not None:
            s.pointer.pinned = None
            return
        hit = pick_cell(
            self._shown_model().scene, s.view.camera, *self._px(x, y), s.view.width, s.view.height
        )
        s.pointer.pinned = hit

    @_contained_event
    def on_mouse_drag_event(self, x, y, dx, dy) -> None:
        self._touch()
        self.input.mouse_drag_event(x, y, dx, dy)
        self._mouse = (x, y)
        if self.input.wants_mouse():  # dragging a slider: no tooltip from the scene behind
            self.state.pointer.mouse = None
            return
        self.state.pointer.mouse = self._px(x, y)
        s = self.state
        pdx, pdy = self._px(dx, dy)
        if self.wnd.mouse_states.left:
            s.view.camera = s.view.camera.panned(pdx, pdy, s.view.height, self._drag_depth)
        elif self.wnd.mouse_states.right:
            s.view.camera = s.view.camera.orbited(pdx, pdy)

    @_contained_event
    def on_mouse_scroll_event(self, x_offset: float, y_offset: float) -> None:
        self._touch()
        self.input.mouse_scroll_event(x_offset, y_offset)
        if self.input.wants_mouse() or y_offset == 0:
            return
        self._stop_flight()
        s = self.state
        if s.controllers.player is not None:
            s.controllers.player.free_camera = True
        mx, my = self._px(*self._mouse)
        hit = self._hit(mx, my)
        anchor = (
            hit[1]
            if hit is not None
            else s.view.camera.point_on_target_plane(mx, my, s.view.width, s.view.height)
        )
        s.view.camera = s.view.camera.zoomed(ZOOM_STEP ** float(np.sign(y_offset)), anchor)

    @_contained_event
    def on_unicode_char_entered(self, char: str) -> None:
        self._touch()
        self.input.unicode_char_entered(char)

    @_contained_event
    def on_key_event(self, key, action, modifiers) -> None:
        self._touch()
        self.input.key_event(key, action, modifiers)
        keys = self.wnd.keys
        if action == keys.ACTION_PRESS and key == keys.Q and modifiers.ctrl:
            self.wnd.close()  # Ctrl+Q quits, even from a text field (on_close saves)
            return
        if action != keys.ACTION_PRESS or self.input.wants_keyboard():
            return  # a text field has the keys: Esc there leaves the field (imgui)
        s = self.state
        player = s.controllers.player
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
            s.view.show_help = not s.view.show_help
        elif key == keys.L:
            s.view.show_labels = not s.view.show_labels
        elif key == keys.F:
            mx, my = self._px(*self._mouse)
            hit = self._hit(mx, my)
            if hit is not None:
                box = self._shown_model().scene.boxes[hit[0]]
                lo, hi = np.array(box.min_corner), np.array(box.max_corner)
                self.fly_to(self._frame_boxes(lo, hi))
        elif key == keys.ESCAPE:  # never quits (exit_key is off)
            self._stop_flight()
            if s.pointer.pinned is not None:
                s.pointer.pinned = None
            else:
                s.view.show_help = False

    def _apply_settings(self, s: Settings) -> None:
        st = self.state
        st.view.colors.symlog, st.view.colors.normalise = s.symlog, s.normalise
        if st.controllers.learning is not None:
            st.controllers.learning.recent = list(s.recent_checkpoints)
        player = st.controllers.player
        if player is not None and s.chapter:
            ids = [c.id for c in player.chapters.chapters]
            if s.chapter in ids:
                player.set_chapter(ids.index(s.chapter))
                player.goto_step(s.step, s.progress)  # the picture that was on screen

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
                self._save_error = self.state.messages.status = message
            return
        self._saved, self._save_error = current, ""

    def _current_settings(self) -> Settings:
        st, s = self.state, self.settings
        s.window_width, s.window_height = self.wnd.size
        s.model = st.home.name
        s.symlog, s.normalise = st.view.colors.symlog, st.view.colors.normalise
        player = st.controllers.player
        if player is not None and player.active and player.chapters.chapters:
            # progress to 1 %: playing saves at most every SETTINGS_EVERY_S anyway
            s.chapter, s.step = player.chapter.id, player.step
            s.progress = round(player.progress, 2)
        elif player is not None and not player.active:  # left: the next start explores freely
            s.chapter, s.step, s.progress = "", 0, 0.0
        if st.controllers.learning is not None:
            s.recent_checkpoints = st.controllers.learning.recent[:MAX_RECENT]
        return s

    def on_close(self) -> None:
        if self.state.controllers.superposition is not None:
            self.state.controllers.superposition.close()
        try:
            save_settings(self._current_settings())
        except OSError as e:
            print(f"llmviz: warning: settings not saved ({e.strerror})")
        if (
            self.state.controllers.learning is not None
            and self.state.controllers.learning.training is not None
        ):
            self.state.controllers.learning.training.stop()
        self.frame.release()


def screen_area(window: str) -> tuple[int, int] | None:
    """The primary monitor's work area (glfw), or None when it cannot be asked (another
    backend, no display: the window system then says why when the window opens)."""
    if window != "glfw":
        return None
    try:
        import glfw

        with warnings.catch_warnings():  # no display: glfw warns; the window open reports it
            warnings.simplefilter("ignore")
            if not glfw.init():
                return None
            monitor = glfw.get_primary_monitor()
            if not monitor:
                return None
            _, _, width, height = glfw.get_monitor_workarea(monitor)
    except Exception:
        return None
    return (width, height) if width > 0 and height > 0 else None


def run(model_spec: str | None = None, window: str = "glfw") -> int:
    """Open the window; 2 with a one-line message when no OpenGL 3.3 context can be had.
    A model that does not load (--model, or the last one used) opens nano-sort instead, with
    the reason in the model panel (LlmvizWindow._first_model)."""
    logging.getLogger("moderngl_window").setLevel(logging.WARNING)  # no INFO lines
    settings, warning = load_settings()
    if warning:
        print(f"llmviz: warning: {warning}", file=sys.stderr)
    attrs = {
        "model_spec": model_spec if model_spec is not None else settings.model,
        "model_from_settings": model_spec is None,
        "startup_settings": settings,
        "startup_warning": warning,
        # a window last shrunk to a sliver opens at a usable size, and a saved size larger
        # than the screen (65535 x 65535 crashes glfw) at the screen's
        "window_size": window_size(settings, screen_area(window)),
    }
    LlvizConfig: type[LlmvizWindow] = type("LlvizConfig", (LlmvizWindow,), attrs)

    try:
        with warnings.catch_warnings(record=True) as caught:  # glfw reports via warnings
            warnings.simplefilter("always")
            try:
                mglw.run_window_config(LlvizConfig, args=["--window", window])
            except Exception:
                if LlvizConfig.opened or not LlvizConfig.samples:
                    raise
                # no multisampled window here: open a plain one rather than none
                LlvizConfig.samples = 0
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
        print(f"llmviz: the window failed: {report('window', e)}", file=sys.stderr)
        return 1
    return 0


__all__ = ["LlmvizWindow", "run", "Camera"]
