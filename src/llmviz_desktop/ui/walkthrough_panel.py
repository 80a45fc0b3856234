"""The walkthrough panel: chapters, step text with tensor links, live numbers, transport
controls and the timeline, plus the editable input and sampling controls."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from imgui_bundle import ImVec2, ImVec4, imgui

from ..session.frame import Frame
from ..session.stage import WALK_MODEL
from ..session.state import AppState
from ..walkthrough.player import SPEEDS
from ..walkthrough.text import paragraphs
from . import dock, uimap
from .palette import MUTED

PANEL_EM = 27  # the panel's width in font heights
LINK = ImVec4(0.55, 0.8, 1.0, 1.0)
LINK_LIT = ImVec4(1.0, 0.7, 0.3, 1.0)
ERROR = ImVec4(1.0, 0.45, 0.35, 1.0)


@dataclass
class WalkActions:
    new_input: str | None = None  # a valid input the user typed (or Random)
    random_input: bool = False
    sampling: tuple[float, int, int] | None = None  # temperature, top-k (0 = off), seed
    leave: bool = False  # back to free exploration: the home model, the overview


def draw_walkthrough_panel(state: AppState, frame: Frame, actions: WalkActions) -> None:
    player = state.controllers.player
    em = imgui.get_font_size()
    dock.place("Walkthrough")  # top of the right column, PANEL_EM wide
    state.pointer.link_hover = None
    if not imgui.begin("Walkthrough", None, imgui.WindowFlags_.always_auto_resize)[0]:
        imgui.end()
        return
    width = imgui.get_content_region_avail().x
    if player is None or not player.chapters.chapters:
        imgui.text_colored(ERROR, "no walkthrough chapters could be loaded")
    else:
        _chapters(player)
        home = state.home
        told = home.params is None or home.config.task is None
        if player.active and told and frame.model.name == WALK_MODEL:  # not a step's own model
            imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + width)
            imgui.text_colored(  # session/stage.Stage.told: the chapters are about nano-sort
                MUTED,
                f"shown on nano-sort, the model the chapters are written for; leave the "
                f"walkthrough to return to {home.name}",
            )
            imgui.pop_text_wrap_pos()
        if player.active:
            _step(state, frame, width)
            _transport(player, em)
            if uimap.button("leave the walkthrough"):
                player.playing = player.active = False
                actions.leave = True
    for err in player.chapters.errors if player else ():
        imgui.text_colored(ERROR, f"skipped {err}")
    imgui.separator()
    _input(state, actions, em)
    imgui.end()


def _chapters(player) -> None:
    titles = [f"{n + 1}. {c.title}" for n, c in enumerate(player.chapters.chapters)]
    current = player.chapter_index if player.active else -1
    preview = titles[current] if current >= 0 else "choose a chapter..."
    imgui.set_next_item_width(-4.5 * imgui.get_font_size())
    opened = imgui.begin_combo("chapter", preview)
    uimap.mark("combo", "chapter")
    if opened:
        for n, title in enumerate(titles):
            if imgui.selectable(title, n == current)[0]:
                player.set_chapter(n)
        imgui.end_combo()
    if not player.active:
        imgui.text_colored(MUTED, "Space plays the walkthrough; the arrows step through it.")


def _step(state: AppState, frame: Frame, width: float) -> None:
    player, walk = state.controllers.player, frame.walk
    assert player is not None
    step_index, _ = player.position()
    chapter = player.chapter
    step = chapter.steps[step_index]
    imgui.text_colored(MUTED, f"step {step_index + 1} of {len(chapter.steps)}")
    imgui.text(step.title)
    imgui.spacing()
    t = walk.t if walk is not None else 0
    hovered_box = frame.hover.explanation.box if frame.hover is not None else None
    for para in paragraphs(step.text, frame.model, t):
        _paragraph(state, para, width, hovered_box)
        imgui.spacing()
    if walk is not None:
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + width)
        for line in walk.caption:
            imgui.text_colored(MUTED, line)
        imgui.pop_text_wrap_pos()
        if walk.bars:
            for token, p in walk.bars:
                imgui.progress_bar(p, ImVec2(width * 0.7, 0), f"{token}  {p:.3f}")


def _paragraph(state: AppState, segments, width: float, hovered_box: str | None) -> None:
    """Words flow and wrap; link words are coloured, light their tensors when hovered, and
    light up themselves when one of their tensors is hovered in 3D."""
    space = imgui.calc_text_size(" ").x
    start_x = imgui.get_cursor_pos_x()
    line_w = 0.0
    first = True
    glue = False  # the next word continues the previous one (no space in the text between)
    for seg in segments:
        lit = (
            seg.link is not None
            and hovered_box is not None
            and any(fnmatch.fnmatchcase(hovered_box, g) for g in seg.link)
        )
        colour = LINK_LIT if lit else LINK
        for n, word in enumerate(seg.text.split(" ")):
            if not word:
                continue
            gap = 0.0 if (n == 0 and glue) else space
            w = imgui.calc_text_size(word).x
            if not first and line_w + gap + w <= width:
                imgui.same_line(0, gap)
                line_w += gap + w
            else:
                if not first:
                    imgui.set_cursor_pos_x(start_x)
                line_w = w
            first = False
            if seg.link is None:
                imgui.text(word)
            else:
                imgui.text_colored(colour, word)
                if imgui.is_item_hovered():
                    state.pointer.link_hover = seg.link
        glue = not seg.text.endswith(" ")


def _transport(player, em: float) -> None:
    imgui.spacing()
    if uimap.button("<"):
        player.prev_step()
    imgui.same_line()
    if uimap.button("Pause" if player.playing else "Play", ImVec2(5 * em, 0)):
        player.toggle()
    imgui.same_line()
    if uimap.button(">"):
        player.next_step()
    imgui.same_line()
    current = SPEEDS.index(player.speed) if player.speed in SPEEDS else 2
    imgui.set_next_item_width(5 * em)
    changed, idx = imgui.combo("speed", current, [f"{s:g}x" for s in SPEEDS])
    uimap.mark("combo", "speed")
    if changed:
        player.speed = SPEEDS[idx]
    imgui.set_next_item_width(-1)
    changed, t = imgui.slider_float(
        "##timeline", player.time, 0.0, player.chapter.duration, "%.1f s"
    )
    uimap.mark("slider", "##timeline")
    if changed:
        player.seek(t)


def _prompt(state: AppState, actions: WalkActions, em: float) -> None:
    model = state.home
    assert model is not None and model.trace is not None
    imgui.text("prompt")
    imgui.set_next_item_width(-1)
    entered, text = imgui.input_text(
        "##prompt", model.input_text, imgui.InputTextFlags_.enter_returns_true
    )
    uimap.mark("input", "##prompt")
    if entered:
        actions.new_input = text
    imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + 25 * em)
    imgui.text_colored(MUTED, f"-> {model.output_text!r}  ({model.trace.tokens.shape[1]} tokens)")
    imgui.pop_text_wrap_pos()
    if state.messages.input_error:
        imgui.text_colored(ERROR, state.messages.input_error)
    _sampling(model, actions, em)


def _sampling(model, actions: WalkActions, em: float) -> None:
    s = model.sampling
    imgui.set_next_item_width(9 * em)
    c1, temperature = imgui.slider_float("temperature", s.temperature, 0.0, 3.0, "%.2f")
    uimap.mark("slider", "temperature")
    imgui.set_next_item_width(9 * em)
    c2, top_k = imgui.slider_int(
        "top-k (0 = all)", s.top_k or 0, 0, min(model.config.vocab_size, 100)
    )
    uimap.mark("slider", "top-k (0 = all)")
    imgui.set_next_item_width(9 * em)
    c3, seed = imgui.input_int("seed", s.seed)
    uimap.mark("input", "seed")
    if c1 or c2 or c3:
        actions.sampling = (temperature, top_k, seed)
    imgui.text_colored(MUTED, "greedy" if s.greedy else "sampling")


def _input(state: AppState, actions: WalkActions, em: float) -> None:
    model = state.home
    if model is None or model.trace is None:
        return
    if model.config.vocab is None:  # a GPT-2 checkpoint: free text
        _prompt(state, actions, em)
        return
    vocab = model.config.vocab
    imgui.text("input")
    imgui.same_line()
    imgui.set_next_item_width(7 * em)
    flags = imgui.InputTextFlags_.enter_returns_true | imgui.InputTextFlags_.chars_uppercase
    entered, text = imgui.input_text("##input", model.input_text, flags)
    uimap.mark("input", "##input")
    if entered:
        actions.new_input = text
    imgui.same_line()
    if uimap.button("Random"):
        actions.random_input = True
    imgui.same_line()
    imgui.text_colored(MUTED, f"-> {model.output_text}")
    if state.messages.input_error:
        imgui.text_colored(ERROR, state.messages.input_error)
    else:
        imgui.text_colored(MUTED, f"letters from {', '.join(vocab)}; Enter applies")
    _sampling(model, actions, em)
