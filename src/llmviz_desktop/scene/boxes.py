"""The scene description: where each tensor is drawn, and where its numbers come from.

A scene is a list of boxes, one per drawn tensor. A box is a grid of rows x cols cells, each cell
one number. World units: 1 unit = 1 cell; x right, y up (the computation flows down, -y),
z toward the viewer. A box has thickness d (build.box_depth, a few cells: the same for every
box of a scene); its cells are drawn on its front face (z = oz), and its top, bottom and side
faces show the first row, last row, first and last column extruded through the depth.

A box's ``origin`` is its top-left-front corner, so it spans

    x in [ox, ox + w],   y in [oy - h, oy],   z in [oz - d, oz]

and the centre of cell (i, j) (row i counted down from the top, column j right from the left)
is (ox + (j + 0.5) * cell, oy - (i + 0.5) * cell, oz - d / 2): the middle of the cell's
column through the box (its point on the front face has z = oz). Picking (picking.cell_at)
maps a hit on any face to the cell under it in x and y.

A ValueSource says which stored array a box shows and how: it never computes a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..model import activations as A
from ..model.activations import Op, Read
from ..model.config import GPTConfig

Vec3 = tuple[float, float, float]
Store = Literal["trace", "param", "tokens"]
Kind = Literal["weight", "intermediate", "aggregate", "token"]

KINDS: tuple[str, ...] = ("weight", "intermediate", "aggregate", "token")
# The only keys of the "tokens" store: the input ids (Trace.tokens) and the predicted next
# token at each position (argmax of the trace's "probs", a selection, not arithmetic).
TOKEN_KEYS: tuple[str, ...] = ("input", "predicted")


@dataclass(frozen=True)
class ValueSource:
    """Where the numbers of one box live.

    The *source matrix* is the stored array (``trace[key]``, ``params[key]`` or the token ids),
    with batch index 0 taken when ``batched``; a 1-D array is read as a single column [n, 1].
    ``rows`` / ``cols`` then cut a half-open range out of that matrix (e.g. the q columns of one
    head in c_attn.weight, or a head's range of c_attn.bias via ``rows``), and ``transpose``
    turns it over. The result is exactly the box: ``matrix()[i, j]`` is cell (i, j).
    """

    store: Store  # "trace": Trace tensors; "param": parameters; "tokens": token ids
    key: str  # trace name, Hugging Face parameter name, or one of TOKEN_KEYS
    transpose: bool = False
    rows: tuple[int, int] | None = None  # [start, stop) of the source matrix's rows
    cols: tuple[int, int] | None = None  # [start, stop) of the source matrix's columns
    batched: bool = False  # the stored array has a leading batch axis (index 0 is drawn)
    ndim: int = 2  # 1 or 2: dimensions of the stored array after the batch axis

    def __post_init__(self) -> None:
        if self.store not in ("trace", "param", "tokens"):
            raise ValueError(f"unknown store {self.store!r}")
        if self.store == "tokens" and self.key not in TOKEN_KEYS:
            raise ValueError(f"tokens key must be one of {TOKEN_KEYS}, got {self.key!r}")
        if self.ndim not in (1, 2):
            raise ValueError(f"ndim must be 1 or 2, got {self.ndim}")
        if self.ndim == 1 and self.cols is not None:
            raise ValueError("a 1-D source has a single column: slice it with rows")

    def array(self, trace: Any = None, params: Mapping[str, np.ndarray] | None = None):
        """The stored array that ``index`` indexes (not sliced, not transposed)."""
        if self.store == "param":
            if params is None:
                raise ValueError(f"{self.key}: no parameters given")
            return params[self.key]
        if trace is None:
            raise ValueError(f"{self.key}: no trace given")
        if self.store == "trace":
            return trace[self.key]
        if self.key == "input":
            return trace.tokens
        return np.argmax(trace[A.PROBS.name()], axis=-1)  # [B, T] predicted token ids

    def matrix(
        self, trace: Any = None, params: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """float32 [rows, cols]: exactly what the box draws (a copy, C-contiguous)."""
        return np.ascontiguousarray(self.view(trace, params), dtype=np.float32)

    def view(self, trace: Any = None, params: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """The same [rows, cols] as matrix() without copying: a strided view of the stored
        (possibly memory-mapped) array, for reading big tensors piece by piece."""
        a = np.asarray(self.array(trace, params))
        if self.batched:
            a = a[0]
        if a.ndim != self.ndim:
            raise ValueError(f"{self.key}: expected {self.ndim} dimensions, got {a.shape}")
        if self.ndim == 1:
            a = a[:, None]
        if self.rows is not None:
            a = a[self.rows[0] : self.rows[1]]
        if self.cols is not None:
            a = a[:, self.cols[0] : self.cols[1]]
        if self.transpose:
            a = a.T
        return a

    def index(self, i: int, j: int) -> tuple[int, ...]:
        """Index into ``array()`` of cell (i, j): ``array[index(i, j)] == matrix[i, j]``."""
        a, b = (j, i) if self.transpose else (i, j)  # (row, col) of the source matrix
        a += self.rows[0] if self.rows is not None else 0
        b += self.cols[0] if self.cols is not None else 0
        if self.ndim == 1:
            if b != 0:
                raise IndexError(f"{self.key}: cell ({i}, {j}) is outside the single column")
            idx: tuple[int, ...] = (a,)
        else:
            idx = (a, b)
        return (0, *idx) if self.batched else idx

    def cell(self, index: tuple[int, ...]) -> tuple[int, int] | None:
        """The inverse of ``index``: the drawn cell (i, j) showing ``array()[index]``, or None
        when that element is not drawn (another batch row, outside the ``rows`` / ``cols``
        slice, a negative index). The array's own extent is not known here, so an index past
        the end of an unsliced axis is not caught."""
        idx = tuple(int(v) for v in index)
        if self.batched:
            if not idx or idx[0] != 0:
                return None
            idx = idx[1:]
        if len(idx) != self.ndim:
            return None
        a, b = (idx[0], 0) if self.ndim == 1 else (idx[0], idx[1])
        for pos, rng in ((a, self.rows), (b, self.cols)):
            if pos < 0 or (rng is not None and not rng[0] <= pos < rng[1]):
                return None
        a -= self.rows[0] if self.rows is not None else 0
        b -= self.cols[0] if self.cols is not None else 0
        return (b, a) if self.transpose else (a, b)


@dataclass(frozen=True)
class TensorBox:
    """One drawn tensor: a rows x cols grid of cells on the front face of a box d deep."""

    name: str  # unique: the trace name, the parameter name, or a per-head slice name
    title: str  # for people, 1-based: "Layer 2 · head 3 · queries"
    kind: Kind  # "weight" | "intermediate" | "aggregate" | "token"
    rows: int
    cols: int
    row_axis: str  # what the drawn rows index: "C", "D", "4C", "vocab", "T_k", "H·D", "1"...
    col_axis: str  # what the drawn columns index: "T", "C", "4C", "position", "1"...
    origin: Vec3  # top-left-front corner (world units)
    size: Vec3  # (w, h, d) = (cols * cell, rows * cell, the scene's box depth)
    layer: int | None  # 0-based block index; None for embedding / final LN / output
    head: int | None  # 0-based head; None when not a head's tensor or heads are merged
    group: str  # embedding, ln_1, attention, projection, ln_2, mlp, ln_f, output
    heads_merged: int = 1  # > 1: this box stands for that many heads stacked along its rows
    source: ValueSource | None = None  # None: nothing to show (render-only shell)
    # declared in model/activations.py, copied here by build.py (never parsed from the name)
    op: Op | None = None  # the operation that made it
    inputs: tuple[Read, ...] = ()  # (role, box name) of every box it reads
    spec: str = ""  # its row of the table, e.g. "attn.residual"
    address: ValueSource | None = None  # where its numbers live, set on shells too
    index_axes: tuple[str, ...] = ()  # formula letters of address's axes after the batch axis

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def min_corner(self) -> Vec3:
        ox, oy, oz = self.origin
        return (ox, oy - self.size[1], oz - self.size[2])

    @property
    def max_corner(self) -> Vec3:
        ox, oy, oz = self.origin
        return (ox + self.size[0], oy, oz)

    @property
    def center(self) -> Vec3:
        ox, oy, oz = self.origin
        w, h, d = self.size
        return (ox + w / 2, oy - h / 2, oz - d / 2)

    def cell_center(self, i: int, j: int) -> Vec3:
        """World position of the centre of cell (i, j), on the front face where it is drawn
        (a thick box's middle is inside it)."""
        ox, oy, oz = self.origin
        cw, ch = self.size[0] / self.cols, self.size[1] / self.rows
        return (ox + (j + 0.5) * cw, oy - (i + 0.5) * ch, oz)


@dataclass(frozen=True)
class ModelCard:
    """One model of a scene that holds several (scene/scale.py): its name, the card's text
    (numbers from its config and model/counts.py), where the card stands and what it spans."""

    model: str  # preset name, the prefix of its boxes' names ("gpt2/...")
    title: str  # "GPT-2 small"
    lines: tuple[str, ...]  # layers and heads, width C, context, parameters
    anchor: Vec3  # where the card goes: the left end of its token table, at the top of its layers
    lo: Vec3  # the model's bounds in the scene
    hi: Vec3
    config: GPTConfig


@dataclass(frozen=True)
class Scene:
    """Every box of one model, in computation order."""

    config: GPTConfig
    boxes: tuple[TensorBox, ...]
    cell: float  # world units per cell (1.0)
    n_tokens: int  # T: the number of token columns drawn
    gap: float  # the basic spacing between neighbouring boxes (world units)
    heads_merged: int  # n_head when each head kind is one merged box, else 1
    cards: tuple[ModelCard, ...] = ()  # one per model when the scene holds several (scale.py)
    by_name: Mapping[str, TensorBox] = field(init=False, repr=False, compare=False)
    bounds: tuple[Vec3, Vec3] = field(init=False)  # (min xyz, max xyz) over all boxes

    def __post_init__(self) -> None:
        by_name: dict[str, TensorBox] = {}
        for box in self.boxes:
            if box.name in by_name:
                raise ValueError(f"duplicate box name {box.name!r}")
            by_name[box.name] = box
        object.__setattr__(self, "by_name", by_name)
        if self.boxes:
            boxes = self.aabbs()
            lo, hi = boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)
            bounds = (
                (float(lo[0]), float(lo[1]), float(lo[2])),
                (float(hi[0]), float(hi[1]), float(hi[2])),
            )
        else:
            bounds = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        object.__setattr__(self, "bounds", bounds)

    @property
    def models(self) -> tuple[str, ...]:
        """The models a scene of several draws (scale.py); () for one model's own scene."""
        return tuple(card.model for card in self.cards)

    def __len__(self) -> int:
        return len(self.boxes)

    def __iter__(self):
        return iter(self.boxes)

    def __getitem__(self, name: str) -> TensorBox:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def aabbs(self) -> np.ndarray:
        """float64 [N, 2, 3]: (min corner, max corner) of every box, in box order (picking)."""
        out = np.empty((len(self.boxes), 2, 3))
        for n, box in enumerate(self.boxes):
            out[n, 0] = box.min_corner
            out[n, 1] = box.max_corner
        return out

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """A value derived from this (immutable) scene, computed once and kept on it."""
        if name not in self.__dict__:
            object.__setattr__(self, name, compute())  # the dataclass is frozen
        return self.__dict__[name]

    @property
    def index_of(self) -> dict[str, int]:
        """Box name -> its position in `boxes` (the renderer's instance index)."""
        return self.cached("_index_of", lambda: {b.name: k for k, b in enumerate(self.boxes)})

    def layer_boxes(self, layer: int) -> list[TensorBox]:
        return [b for b in self.boxes if b.layer == layer]

    def embedding_boxes(self) -> tuple[str, ...]:
        """tok_emb, pos_emb and their sum emb: the embedding lookup, in order."""
        return (A.TOK_EMB.name(), A.POS_EMB.name(), A.EMB.name())

    def softmax_boxes(self, name: str) -> tuple[str, ...]:
        """scores, max, expsum, probs of the attention head box `name` belongs to (the table's
        names; absent from the scene when `name` is not a head's tensor)."""
        box = self[name]
        return A.softmax_names(box.layer, box.head)

    def layer_norm_boxes(self, prefix: str) -> dict[str, str] | None:
        """The boxes of the layer norm a chapter's prefix names ("h.0.ln_1", "ln_f"): mean,
        rstd, out, weight and bias (the bias only when the model has one); None if none."""
        found = A.layer_norm(self.config, prefix)
        if found is None:
            return None
        ln, layer = found
        parts = {"mean": ln.mean, "rstd": ln.rstd, "out": ln.out, "weight": ln.weight}
        parts["bias"] = ln.bias
        names = {role: spec.name(layer) for role, spec in parts.items()}
        return {role: name for role, name in names.items() if name in self}
