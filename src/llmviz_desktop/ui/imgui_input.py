"""Feed Dear ImGui's io from window events, as moderngl-window delivers them. No GL here.

The app's WindowConfig forwards its events one to one::

    def on_mouse_position_event(self, x, y, dx, dy):
        self.imgui_input.mouse_position_event(x, y, dx, dy)

    def on_mouse_drag_event(self, x, y, dx, dy):
        self.imgui_input.mouse_drag_event(x, y, dx, dy)
        if not self.imgui_input.wants_mouse():
            ...orbit the camera...

and calls `resize(...)` on resize (and once at start-up) and `set_delta_time(dt)` before each
`imgui.new_frame()`. All events go through io's event queue (add_*_event), so they take effect
at the next new_frame(). Key codes are translated with the window's own key table
(`window.keys`), so this module never imports a window library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgui_bundle import imgui

# moderngl-window's MouseButtons (left=1, right=2, middle=3) -> ImGuiMouseButton.
MOUSE_BUTTONS = {1: 0, 2: 1, 3: 2}

# moderngl-window BaseKeys attribute -> imgui.Key attribute.
_NAMED_KEYS = {
    "TAB": "tab",
    "LEFT": "left_arrow",
    "RIGHT": "right_arrow",
    "UP": "up_arrow",
    "DOWN": "down_arrow",
    "PAGE_UP": "page_up",
    "PAGE_DOWN": "page_down",
    "HOME": "home",
    "END": "end",
    "INSERT": "insert",
    "DELETE": "delete",
    "BACKSPACE": "backspace",
    "SPACE": "space",
    "ENTER": "enter",
    "ESCAPE": "escape",
    "COMMA": "comma",
    "MINUS": "minus",
    "PERIOD": "period",
    "SLASH": "slash",
    "SEMICOLON": "semicolon",
    "EQUAL": "equal",
    "LEFT_BRACKET": "left_bracket",
    "RIGHT_BRACKET": "right_bracket",
    "BACKSLASH": "backslash",
    "CAPS_LOCK": "caps_lock",
    "LEFT_SHIFT": "left_shift",
    "RIGHT_SHIFT": "right_shift",
    "LEFT_CTRL": "left_ctrl",
    **{chr(c): chr(c).lower() for c in range(ord("A"), ord("Z") + 1)},
    **{f"NUMBER_{d}": f"_{d}" for d in range(10)},
    **{f"NUMPAD_{d}": f"keypad{d}" for d in range(10)},
    **{f"F{n}": f"f{n}" for n in range(1, 13)},
}
_SHIFT_KEYS = ("LEFT_SHIFT", "RIGHT_SHIFT")
_CTRL_KEYS = ("LEFT_CTRL",)

_UNDEFINED = "undefined"  # moderngl-window's placeholder for keys a backend does not map


def build_keymap(keys: Any) -> dict[Any, imgui.Key]:
    """Window key code -> imgui.Key, from a moderngl-window key table (`window.keys`).

    Keys the window library leaves undefined (the headless window defines none) are skipped.
    """
    keymap: dict[Any, imgui.Key] = {}
    for name, imgui_name in _NAMED_KEYS.items():
        code = getattr(keys, name, None)
        if code is None or code == _UNDEFINED:
            continue
        keymap.setdefault(code, getattr(imgui.Key, imgui_name))
    return keymap


def _codes(keys: Any, names: tuple[str, ...]) -> frozenset:
    codes = (getattr(keys, n, None) for n in names)
    return frozenset(c for c in codes if c is not None and c != _UNDEFINED)


class ImguiInput:
    """Window events -> the current ImGui context's io.

    `keys` is the window's key table (`window.keys`, a moderngl-window BaseKeys subclass);
    without one, key events are ignored but mouse and text input still work.
    """

    def __init__(self, keys: Any = None) -> None:
        self.keys = keys
        self.keymap = build_keymap(keys) if keys is not None else {}
        self._release = getattr(keys, "ACTION_RELEASE", "ACTION_RELEASE")
        self._shift_codes = _codes(keys, _SHIFT_KEYS) if keys is not None else frozenset()
        self._ctrl_codes = _codes(keys, _CTRL_KEYS) if keys is not None else frozenset()

    @property
    def io(self) -> imgui.IO:
        return imgui.get_io()

    # ------------------------------------------------------------------ window

    def resize(
        self,
        width: float,
        height: float,
        buffer_width: float | None = None,
        buffer_height: float | None = None,
    ) -> None:
        """Window size in screen units, and the framebuffer size in pixels (HiDPI scale)."""
        io = self.io
        io.display_size = imgui.ImVec2(float(width), float(height))
        bw = buffer_width if buffer_width is not None else width
        bh = buffer_height if buffer_height is not None else height
        sx = bw / width if width > 0 else 1.0
        sy = bh / height if height > 0 else 1.0
        io.display_framebuffer_scale = imgui.ImVec2(float(sx), float(sy))

    def set_delta_time(self, dt: float) -> None:
        """Seconds since the last frame; ImGui requires a positive value."""
        self.io.delta_time = max(float(dt), 1e-6)

    def mouse_position_event(self, x: float, y: float, dx: float = 0, dy: float = 0) -> None:
        self.io.add_mouse_pos_event(float(x), float(y))

    def mouse_drag_event(self, x: float, y: float, dx: float = 0, dy: float = 0) -> None:
        self.io.add_mouse_pos_event(float(x), float(y))

    def mouse_leave_event(self) -> None:
        """The cursor left the window: ImGui stops hovering anything."""
        self.io.add_mouse_pos_event(-imgui.FLT_MAX, -imgui.FLT_MAX)

    def mouse_press_event(self, x: float, y: float, button: int) -> None:
        self.io.add_mouse_pos_event(float(x), float(y))
        if button in MOUSE_BUTTONS:
            self.io.add_mouse_button_event(MOUSE_BUTTONS[button], True)

    def mouse_release_event(self, x: float, y: float, button: int) -> None:
        self.io.add_mouse_pos_event(float(x), float(y))
        if button in MOUSE_BUTTONS:
            self.io.add_mouse_button_event(MOUSE_BUTTONS[button], False)

    def mouse_scroll_event(self, x_offset: float, y_offset: float) -> None:
        """Wheel steps; y > 0 scrolls up, x > 0 scrolls left (glfw/pyglet conventions)."""
        self.io.add_mouse_wheel_event(float(x_offset), float(y_offset))

    # ------------------------------------------------------------------ keyboard

    def key_event(self, key: Any, action: Any, modifiers: Any = None) -> None:
        """A key press (or repeat) / release with moderngl-window's KeyModifiers."""
        io = self.io
        down = action != self._release
        shift = bool(getattr(modifiers, "shift", False))
        ctrl = bool(getattr(modifiers, "ctrl", False))
        alt = bool(getattr(modifiers, "alt", False))
        # A modifier key's own event may carry the state from before it (X11 does): trust the
        # event itself for that modifier.
        if key in self._shift_codes:
            shift = down
        if key in self._ctrl_codes:
            ctrl = down
        io.add_key_event(imgui.Key.mod_ctrl, ctrl)
        io.add_key_event(imgui.Key.mod_shift, shift)
        io.add_key_event(imgui.Key.mod_alt, alt)
        imgui_key = self.keymap.get(key)
        if imgui_key is not None:
            io.add_key_event(imgui_key, down)

    def unicode_char_entered(self, char: str) -> None:
        """Text input (already composed by the window system: layouts, dead keys, IME)."""
        if char:
            self.io.add_input_characters_utf8(char)

    # ------------------------------------------------------------------ capture

    def wants_mouse(self) -> bool:
        """True while ImGui uses the mouse (over a panel, or dragging a widget)."""
        return bool(self.io.want_capture_mouse)

    def wants_keyboard(self) -> bool:
        """True while ImGui uses the keyboard (a text field is active, or keyboard nav)."""
        return bool(self.io.want_capture_keyboard)


def default_font_path() -> Path | None:
    """imgui_bundle's bundled DroidSans.ttf, if this installation ships it."""
    import imgui_bundle

    path = Path(imgui_bundle.__file__).parent / "assets" / "fonts" / "DroidSans.ttf"
    return path if path.is_file() else None


def load_default_font(size_px: float = 16.0) -> imgui.ImFont:
    """Add the UI font to the current context's atlas and make it the default.

    With Dear ImGui 1.92 a font is rasterised on demand at whatever size is pushed, so this
    size is only the base size. Falls back to ImGui's embedded font if DroidSans is missing.
    """
    io = imgui.get_io()
    path = default_font_path()
    font = None
    if path is not None:
        font = io.fonts.add_font_from_file_ttf(str(path), float(size_px))
    if font is None:
        cfg = imgui.ImFontConfig()
        cfg.size_pixels = float(size_px)
        font = io.fonts.add_font_default(cfg)
    io.font_default = font
    return font
