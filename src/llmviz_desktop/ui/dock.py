"""Where the panels stand (issue 14): three columns, so that no panel covers another's
controls at 1280x720 or larger. The left column holds the model panel (top) and "Watch it
learn" (bottom), the right one the walkthrough (top) and the superposition demo (bottom), the
middle one the Analysis panel along the top; the camera frames what they leave
(scene/framing.py). A column's panels share its height: each gets the height its content asks
for while they fit; when they do not, the upper panel (model, walkthrough) keeps its height
and the lower one gets the rest, at least FLOOR_EM (it scrolls).

Each panel calls `place(name)` right before `imgui.begin(name, ...)`. Sizes are in em, from the
display's edges; the heights panels ask for are read from the previous frame's windows."""

from __future__ import annotations

from imgui_bundle import ImVec2, imgui

EDGE_EM = 0.8  # from the window's edges, and between panels
LEFT_EM = 21.0  # the left column's width
RIGHT_EM = 27.0  # the right column's (the walkthrough's text is set for it)
MIDDLE_MAX_EM = 36.0  # the Analysis panel is no wider than this on a wide screen
BAR_EM = 1.6  # a collapsed panel: its title bar
FLOOR_EM = 12.0  # an expanded panel keeps at least this much height (less if it asks less)

# column -> its panels from the top; those in BOTTOM stack upward from the bottom edge
COLUMNS = {
    "left": ("llmviz", "Watch it learn"),
    "middle": ("Analysis",),
    "right": ("Walkthrough", "Superposition"),
}
BOTTOM = frozenset({"Watch it learn", "Superposition"})
# what a panel asks for before it was ever drawn (em): collapsed bars, or a typical height
FIRST_EM = {
    "llmviz": 23.0,
    "Watch it learn": BAR_EM,
    "Analysis": BAR_EM,
    "Walkthrough": 15.0,
    "Superposition": 24.0,
}
# panels whose height is set (not fitted to their content by imgui): their content scrolls
FIXED_SIZE = frozenset({"Analysis", "Superposition"})
FIXED_EM = {"Analysis": 36.0}  # the height such a panel asks for when expanded


def share(room: float, wanted: list[float], floors: list[float]) -> list[float]:
    """Heights for panels stacked in `room`, first first: what each wants while all fit;
    otherwise the first panels keep theirs as long as the later ones keep their floors, and
    the later ones share what is left (they scroll)."""
    out = []
    for i, w in enumerate(wanted):
        rest = sum(floors[i + 1 :])
        out.append(max(min(w, room - rest), floors[i]))
        room -= out[-1]
    return out


def column_x(column: str, width: float, em: float) -> tuple[float, float]:
    """The column's left and right edges in imgui units."""
    edge = EDGE_EM * em
    left = (edge, edge + LEFT_EM * em)
    right = (width - edge - RIGHT_EM * em, width - edge)
    if column == "left":
        return left
    if column == "right":
        return right
    x0, x1 = left[1] + edge, right[0] - edge
    if x1 - x0 < 20 * em:  # a narrow window: the middle panel spans it (it may overlap)
        x0, x1 = edge, width - edge
    spare = max(x1 - x0 - MIDDLE_MAX_EM * em, 0.0)
    return x0 + spare / 2, x1 - spare / 2


def _wanted(name: str, em: float) -> tuple[float, bool, bool]:
    """(height the panel asks for, whether it is shown, whether collapsed), from the last
    frame's window."""
    window = imgui.internal.find_window_by_name(name)
    if window is None:
        return FIRST_EM.get(name, 10.0) * em, name in ("llmviz", "Walkthrough"), False
    shown = bool(window.was_active or window.active)
    if window.collapsed:
        return max(window.title_bar_height, BAR_EM * em), shown, True
    if name in FIXED_EM:
        return FIXED_EM[name] * em, shown, False
    content = window.content_size_ideal.y + 2 * window.window_padding.y
    return content + window.deco_outer_size_y1 + window.deco_outer_size_y2, shown, False


def layout(name: str) -> tuple[float, float, float, float, bool]:
    """(x, y, width, height limit, anchored to the bottom) of a panel this frame."""
    io = imgui.get_io()
    em = imgui.get_font_size()
    width, height = io.display_size.x, io.display_size.y
    column = next(c for c, names in COLUMNS.items() if name in names)
    x0, x1 = column_x(column, width, em)
    edge = EDGE_EM * em
    asked = {n: _wanted(n, em) for n in COLUMNS[column]}
    asked[name] = (asked[name][0], True, asked[name][2])  # drawing it now: it is shown
    shown = [n for n in COLUMNS[column] if asked[n][1]]
    room = height - 2 * edge - edge * (len(shown) - 1)
    floors = [asked[n][0] if asked[n][2] else min(asked[n][0], FLOOR_EM * em) for n in shown]
    heights = dict(zip(shown, share(room, [asked[n][0] for n in shown], floors), strict=True))
    bottom = name in BOTTOM
    if bottom:
        y = height - edge - sum(heights[n] + edge for n in shown if n in BOTTOM and _after(n, name))
    else:
        y = edge + sum(heights[n] + edge for n in shown if n not in BOTTOM and _before(n, name))
    return x0, y, x1 - x0, heights[name], bottom


def _before(a: str, b: str) -> bool:
    names = [n for names in COLUMNS.values() for n in names]
    return names.index(a) < names.index(b)


def _after(a: str, b: str) -> bool:
    return _before(b, a)


def place(name: str) -> None:
    """Position and size the panel `name` for this frame (call right before its begin)."""
    x, y, w, h, bottom = layout(name)
    imgui.set_next_window_pos(ImVec2(x, y), imgui.Cond_.always, ImVec2(0.0, 1.0 if bottom else 0.0))
    if name in FIXED_SIZE:
        window = imgui.internal.find_window_by_name(name)
        if window is None or not window.collapsed:
            imgui.set_next_window_size(ImVec2(w, h), imgui.Cond_.always)
    else:
        imgui.set_next_window_size_constraints(ImVec2(w, 0.0), ImVec2(w, max(h, 1.0)))
