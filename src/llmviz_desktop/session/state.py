"""The application state: one object the UI edits and the renderer reads (no GL, no imgui).

Everything shown is derived from here: the model (config, weights), its trace for the current
input, the layout scene, the camera and the colour settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..model.config import PRESETS, GPTConfig
from ..model.counts import trace_dtype
from ..model.gpt import Trace, forward
from ..model.params import Params
from ..model.sampling import Sampling
from ..model.tokenizer import CharTokenizer, TokenizerError
from ..model.weights import resolve_model
from ..scene.camera import Camera, CameraError
from ..scene.layout import Scene, build_scene

if TYPE_CHECKING:
    from ..demos.superposition import SuperpositionDemo
    from ..scene.hover import HoverInfo
    from ..scene.picking import CellHit
    from ..walkthrough.player import Player
    from ..walkthrough.timeline import WalkFrame
    from .learning import Learning

DEFAULT_INPUT = "CBABBC"
MODEL_CHOICES = tuple(PRESETS)  # nano-sort with values; the others render-only shells
CAMERA_PRESETS = ("overview", "front", "top-layer", "output")
PANEL_PX = 340.0  # the model panel's width at the default font size
SECTION_LABEL_PX = 220.0  # room for the section labels right of the model
RIGHT_PANEL_PX = 450.0  # the walkthrough panel (27 em at 16 px, plus margins)
TOP_BAR_PX = 40.0  # the collapsed Analysis panel's title bar across the top of the free area


@dataclass
class ColorSettings:
    symlog: bool = False  # symmetric-log instead of linear value -> colour
    symlog_range: float = 0.02  # fraction of the range kept linear around zero
    grid: float = 1.0  # gridline strength 0..1
    normalise: str = "tensor"  # "tensor": each tensor to its own range; "global": one range
    #                             per kind (weights, activations, aggregates) over the model


@dataclass
class LoadedModel:
    name: str
    config: GPTConfig
    params: Params | None  # None: a render-only shell
    trace: Trace | None
    scene: Scene
    input_text: str = ""
    output_text: str = ""
    sampling: Sampling = field(default_factory=Sampling)
    display: Params | None = None  # what weight boxes show instead of params (gradients...)
    label: str = ""  # a line describing where these weights come from (replay, training)
    tokenizer: object | None = None  # CharTokenizer or BPETokenizer (None for shells)

    def token_text(self, token_id: int) -> str:
        """One token as text, for labels."""
        if self.config.vocab is not None:
            return self.config.vocab[int(token_id)]
        piece = getattr(self.tokenizer, "piece", None)
        return piece(token_id) if piece else str(int(token_id))


NEW_TOKENS = 4  # tokens generated after the text for models without a task (GPT-2); each
#                costs a full forward pass (no key/value cache)
DEFAULT_TEXT = "The quick brown fox jumps over the"


def tokenizer_for(spec: str, cfg: GPTConfig):
    """Letters for character vocabularies; a checkpoint folder's BPE tokenizer otherwise."""
    from pathlib import Path

    from ..model.tokenizer import BPETokenizer

    if cfg.vocab is not None:
        return CharTokenizer(cfg.vocab)
    if Path(spec).is_dir():
        return BPETokenizer.from_dir(spec)
    return None


def _run(cfg: GPTConfig, params: Params, tok, text: str, sampling: Sampling):
    """Tokenise, generate, and trace the sequence the model processed: (trace, output text)."""
    from ..model.generate import generate

    ids = tok.encode(text)
    if ids.max() >= cfg.vocab_size:
        where = getattr(tok, "source", "the tokenizer")
        raise TokenizerError(
            f"{where}: the tokenizer gives token id {int(ids.max())} but the model's "
            f"vocabulary has {cfg.vocab_size} entries (they do not belong together)"
        )
    n_new = (cfg.task or {}).get("length", NEW_TOKENS)
    room = cfg.block_size - n_new + 1
    if len(ids) > room:
        raise TokenizerError(f"the text is {len(ids)} tokens; {context_limit(cfg, room)}")
    gen = generate(cfg, params, ids, n_new, sampling.temperature, sampling.top_k, sampling.seed)
    full = np.concatenate([ids, gen.tokens[0][:-1]])  # the last token is never fed back
    trace = forward(cfg, params, full, dtype=trace_dtype(cfg))  # float64 for small models
    return trace, tok.decode(gen.tokens[0])


def with_params(
    base: LoadedModel, params: Params, display: Params | None = None, label: str = ""
) -> LoadedModel:
    """The same model and input with other weights (a checkpoint, an interpolated moment,
    live training): generate and trace again, keep the layout (it depends on shapes only)."""
    trace, output = _run(base.config, params, base.tokenizer, base.input_text, base.sampling)
    return LoadedModel(
        base.name,
        base.config,
        params,
        trace,
        base.scene,
        base.input_text,
        output,
        base.sampling,
        display,
        label,
        base.tokenizer,
    )


def load_model(
    spec: str, input_text: str | None = None, sampling: Sampling | None = None
) -> LoadedModel:
    """Resolve a preset or checkpoint, run the forward pass on the input (with the generated
    answer appended, so the whole sequence is drawn) and lay out the scene."""
    sampling = sampling or Sampling()
    cfg, params = resolve_model(spec)
    trace, output, text = None, "", ""
    tok = tokenizer_for(spec, cfg) if params is not None else None
    if params is not None and tok is not None:
        default = DEFAULT_INPUT if cfg.vocab else DEFAULT_TEXT
        text = input_text if input_text is not None else default
        trace, output = _run(cfg, params, tok, text, sampling)
    scene = build_scene(cfg, trace, params)
    return LoadedModel(spec, cfg, params, trace, scene, text, output, sampling, None, "", tok)


@dataclass
class AppState:
    model: LoadedModel
    camera: Camera
    colors: ColorSettings = field(default_factory=ColorSettings)
    show_help: bool = False
    show_labels: bool = True
    show_ui: bool = True  # the panels (labels are separate): off for clean captures
    show_stats: bool = True  # fps / frame time in the panel (off for reproducible images)
    fps: float = 0.0
    idle: bool = False  # the window redraws at its idle rate (pacing.py)
    frame_ms: float = 0.0
    width: int = 1280
    height: int = 720
    status: str = ""  # one-line message shown in the panel (errors, hints)
    mouse: tuple[float, float] | None = None  # cursor in framebuffer pixels, None: outside
    pinned: CellHit | None = None  # the cell whose tooltip stays (click; Esc frees)
    hover: HoverInfo | None = None  # what the cursor points at this frame (derived)
    title_hover: str | None = None  # name of the box whose title is under the cursor
    home: LoadedModel | None = None  # the model the user chose (the walkthrough may show others)
    player: Player | None = None  # walkthrough playback (None: no chapters)
    walk: WalkFrame | None = None  # this moment of the walkthrough (derived each frame)
    link_hover: tuple[str, ...] | None = None  # tensor globs of the text link under the cursor
    input_error: str = ""  # why the last typed input was refused
    hud: str = ""  # a caption drawn over the scene (replay step, video export)
    learning: Learning | None = None  # live training and checkpoint replay (app only)
    legend: dict[str, float] = field(default_factory=dict)  # kind -> |value| at full colour
    errors: list[str] = field(default_factory=list)  # one line per failure inside the app
    show_param_overlay: bool = False  # the Parameters tab's 3D count labels
    superposition: SuperpositionDemo | None = None  # the near-orthogonality demo window

    def __post_init__(self) -> None:
        if self.home is None:
            self.home = self.model


def context_limit(config: GPTConfig, room: int) -> str:
    """'at most R tokens fit: <model>'s context is N ...': the limit an input meets, named by
    the model's context size (the generated tokens fed back take the rest)."""
    fed_back = config.block_size - room
    rest = f", {fed_back} of them for the generated tokens" if fed_back > 0 else ""
    return f"at most {room} tokens fit: {config.name}'s context is {config.block_size} tokens{rest}"


def input_room(config: GPTConfig) -> int:
    """How many input tokens fit the context with the generated ones after them."""
    n_new = (config.task or {}).get("length", NEW_TOKENS)
    return max(config.block_size - n_new + 1, 0)


MAX_BAD_SHOWN = 5  # a pasted page of other characters names only the first few


def input_problem(text: str, config: GPTConfig) -> str:
    """Why a typed input cannot be used ('' when it can): letters outside the vocabulary, more
    than the model's context holds, or not the task's length. One short line whatever the
    text (it never repeats a long input)."""
    if config.vocab is None:  # BPE: any text; the token count is checked when it runs
        return "" if text.strip() else "type some text"
    vocab = config.vocab
    bad = sorted({ch for ch in text if ch not in vocab})
    if bad:
        named = ", ".join(repr(c) for c in bad[:MAX_BAD_SHOWN])
        more = f" and {len(bad) - MAX_BAD_SHOWN} more" if len(bad) > MAX_BAD_SHOWN else ""
        return f"{named}{more} not allowed: use {', '.join(vocab)}"
    room, length = input_room(config), (config.task or {}).get("length")
    too_long = f"; {context_limit(config, room)}" if len(text) > room else ""
    if length and len(text) != length:
        return f"type {length} letters (got {len(text)}){too_long}"
    if too_long:
        return f"{len(text)} letters{too_long}"
    if not text:
        return "type at least one letter"
    return ""


def random_input(config: GPTConfig, rng: np.random.Generator) -> str:
    vocab = config.vocab or ()
    length = (config.task or {}).get("length", 6)
    return "".join(vocab[int(i)] for i in rng.integers(0, len(vocab), length))


def free_area(width: int) -> tuple[float, float]:
    """Pixel columns between the model panel (left) and the walkthrough panel (right); the
    whole width when the window is too narrow for both."""
    if width > PANEL_PX + RIGHT_PANEL_PX + 300:
        return PANEL_PX, width - RIGHT_PANEL_PX
    return 0.0, float(width)


def camera_preset(name: str, scene: Scene, width: int, height: int, panels: bool = True) -> Camera:
    """Named views of a scene. 'overview' shows the whole model, turned slightly so the slabs
    read as 3D."""
    lo, hi = np.asarray(scene.bounds[0], float), np.asarray(scene.bounds[1], float)
    if name == "overview":
        # the model and its section labels (right of it) centred between the panels, and
        # below the Analysis title bar
        top = TOP_BAR_PX if panels and height > 4 * TOP_BAR_PX else 0.0
        margin = 1.04 * height / (height - top)
        cam = Camera(yaw=-14.0, pitch=6.0).framing(lo, hi, width, height, margin=margin)
        left, right = free_area(width) if panels else (0.0, float(width))
        centre = (left + right) / 2 - SECTION_LABEL_PX / 2
        return cam.panned(centre - width / 2, top / 2, height)
    if name == "front":
        return Camera().framing(lo, hi, width, height, margin=1.02)
    if name in ("top-layer", "output"):
        height_span = hi[1] - lo[1]
        frac = (0.0, 0.3) if name == "top-layer" else (0.8, 1.0)
        top = hi[1] - frac[0] * height_span
        bottom = hi[1] - frac[1] * height_span
        sub_lo, sub_hi = lo.copy(), hi.copy()
        sub_lo[1], sub_hi[1] = bottom, top
        return Camera(yaw=-12.0, pitch=6.0).framing(sub_lo, sub_hi, width, height)
    raise CameraError(f"unknown camera preset {name!r} (choose from {', '.join(CAMERA_PRESETS)})")


def parse_camera(text: str, scene: Scene, width: int, height: int, panels: bool = True) -> Camera:
    """A preset name or a JSON object (fields target, distance, yaw, pitch, fov)."""
    text = text.strip()
    if text.startswith("{"):
        return Camera.from_json(text)
    return camera_preset(text, scene, width, height, panels)
