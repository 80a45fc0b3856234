"""A test hook, off by default: with LLMVIZ_UI_MAP=<path> set, every frame writes the screen
rectangles of the controls the panels drew (and of the open panels, in front-to-back order)
to that JSON file, so a real-window test can find and click each control without guessing
pixel positions. Without the variable, `mark` returns at once and nothing is written.

The panels call `button`, `checkbox` and `radio_button` from here instead of imgui's, and
`mark(kind, label)` right after any other control (combo, text field, slider, tab)."""

from __future__ import annotations

import json
import os
from typing import Any

from imgui_bundle import ImVec2, imgui

PATH = os.environ.get("LLMVIZ_UI_MAP") or None
_items: list[dict[str, Any]] = []
_frame = [0]


def mark(kind: str, label: str, rect: tuple[float, float, float, float] | None = None) -> None:
    """Record the last item drawn (or `rect`: x0, y0, x1, y1 in window coordinates)."""
    if PATH is None:
        return
    if rect is None:
        lo, hi = imgui.get_item_rect_min(), imgui.get_item_rect_max()
        rect = (lo.x, lo.y, hi.x, hi.y)
        visible = imgui.is_item_visible()
    else:
        visible = imgui.is_rect_visible(ImVec2(rect[0], rect[1]), ImVec2(rect[2], rect[3]))
    flags = imgui.get_current_context().last_item_data.item_flags
    disabled = bool(int(flags) & int(imgui.ItemFlags_.disabled))
    window = imgui.internal.get_current_window()
    _items.append(
        {
            "kind": kind,
            "label": label,
            "window": window.name if window is not None else "",
            "rect": [float(v) for v in rect],
            "visible": bool(visible),
            "disabled": disabled,
        }
    )


def button(label: str, size: ImVec2 | None = None) -> bool:
    pressed = imgui.button(label) if size is None else imgui.button(label, size)
    mark("button", label)
    return pressed


def checkbox(label: str, value: bool) -> tuple[bool, bool]:
    result = imgui.checkbox(label, value)
    mark("toggle", label)
    return result


def radio_button(label: str, active: bool) -> bool:
    pressed = imgui.radio_button(label, active)
    mark("toggle", label)
    return pressed


def flush() -> None:
    """End of the frame: write what was marked, with the open panels (atomically)."""
    if PATH is None:
        return
    _frame[0] += 1
    style, font = imgui.get_style(), imgui.get_font_size()
    windows = []
    for w in imgui.get_current_context().windows:  # back to front
        if not w.active or w.hidden or w.name.startswith("Debug##"):
            continue
        bar = w.title_bar_rect()
        y = bar.min.y + style.frame_padding.y + font / 2
        flags = int(w.flags)
        windows.append(
            {
                "name": w.name,
                "rect": [w.pos.x, w.pos.y, w.pos.x + w.size.x, w.pos.y + w.size.y],
                "collapsed": bool(w.collapsed),
                "inputs": not flags & int(imgui.WindowFlags_.no_inputs),
                # the centres of the title bar's buttons, where it has them
                "collapse_at": None
                if flags & int(imgui.WindowFlags_.no_collapse | imgui.WindowFlags_.no_title_bar)
                else [bar.min.x + style.frame_padding.x + font / 2, y],
                "close_at": [bar.max.x - style.frame_padding.x - font / 2, y]
                if w.has_close_button
                else None,
            }
        )
    data = {"frame": _frame[0], "pid": os.getpid(), "items": _items, "windows": windows}
    tmp = f"{PATH}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, PATH)
    _items.clear()
