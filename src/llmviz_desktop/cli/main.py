"""The `llmviz` command: the desktop app and its subcommands (infer, train, params).

Every user error is one line on stderr and exit code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_USAGE = 2


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


class _CommandError(UsageError):
    """A user error found by a command: printed after "llmviz COMMAND: "."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage + error
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text[:40]!r}")
    return value


SEED_MAX = 2**128 - 1  # numpy's SeedSequence keeps 128 bits of a seed
RENDER_FRAMES_MAX = 10_000
CAMERA_TEXT_MAX = 4096  # characters of a --camera preset name or JSON object
CAMERA_DEPTH_MAX = 4  # nesting of a --camera JSON value ({"target": [...]} is 2)
FPS_RANGE = (0.1, 120.0)
SECONDS_PER_CHECKPOINT_RANGE = (0.01, 600.0)
# window backends of moderngl-window and the modules each one imports
WINDOW_BACKENDS = {
    "glfw": ("glfw",),
    "pyglet": ("pyglet",),
    "pygame2": ("pygame",),
    "sdl2": ("sdl2",),
    "pyqt5": ("PyQt5",),
    "pyside2": ("PySide2",),
    "tk": ("tkinter", "pyopengltk"),
}


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to 2**128-1, got {text[:40]!r}"
        ) from None
    if not 0 <= value <= SEED_MAX:
        shown = text if len(text) <= 40 else text[:20] + "..."
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**128-1, got {shown}")
    return value


def _int_range(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low:,} to {high:,}, got {text[:40]!r}"
            )
        return value

    return parse


def _float_range(low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(
                f"expected a number from {low:g} to {high:g}, got {text[:40]!r}"
            )
        return value

    return parse


def _camera_text(text: str) -> str:
    """A --camera value, bounded before anything parses it: a preset name, or a JSON object
    of at most CAMERA_TEXT_MAX characters and CAMERA_DEPTH_MAX levels of nesting whose fields
    are the camera's. Ranges that depend on the model are checked once it is loaded
    (render_cli.check_camera)."""
    expected = (
        f"expected a preset (overview, front, top-layer, output) or a JSON object of at most "
        f"{CAMERA_TEXT_MAX} characters"
    )
    if len(text) > CAMERA_TEXT_MAX:
        raise argparse.ArgumentTypeError(f"{expected}, got {len(text):,} characters")
    if not text.strip().startswith(("{", "[")):
        from ..scene.framing import CAMERA_PRESETS

        if text.strip() in CAMERA_PRESETS:
            return text
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise argparse.ArgumentTypeError(f"{expected}, got {shown!r}")
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:  # nesting measured without parsing (a deep value overflows the parser)
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > CAMERA_DEPTH_MAX:
        raise argparse.ArgumentTypeError(
            f"JSON nested {deepest} levels deep; expected at most {CAMERA_DEPTH_MAX} "
            '(like {"target": [0, -1200, 0], "distance": 3000, "yaw": -14, "pitch": 6})'
        )
    from ..scene.camera import Camera, CameraError

    try:
        Camera.from_json(text)
    except CameraError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except OverflowError:  # a 400-digit integer is no float
        raise argparse.ArgumentTypeError(
            "camera numbers must fit a float (at most about 1.8e308 in size)"
        ) from None
    return text


def installed_window_backends() -> list[str]:
    """The moderngl-window backends whose modules are installed (found, not imported)."""
    from importlib.util import find_spec

    def found(module: str) -> bool:
        try:
            return find_spec(module) is not None
        except (ImportError, ValueError):
            return False

    return [name for name, mods in WINDOW_BACKENDS.items() if all(found(m) for m in mods)]


def _window_backend(text: str) -> str:
    installed = installed_window_backends()
    if text not in installed:
        why = "not installed" if text in WINDOW_BACKENDS else "unknown"
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is {why}; installed backends: {', '.join(installed) or 'none'}"
        )
    return text


def _point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected X,Y in pixels like 640,360, got {text!r}"
        ) from None
    return x, y


def _unit_float(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def _size(text: str) -> tuple[int, int]:
    from .render import parse_size

    return parse_size(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="llmviz",
        description=(
            "A working GPT in 3D: every weight and activation a visible cell. Without a "
            "subcommand, opens the desktop app on the nano-sort model."
        ),
        epilog="Models: a preset (nano-sort, gpt2, gpt2-medium, gpt2-large, gpt2-xl, gpt3) or a "
        "directory with config.json + model.safetensors in the Hugging Face GPT-2 layout. "
        "Only nano-sort ships with weights; the others are render-only shells.",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model to open in the app (preset or directory; default: the last one used)",
    )
    installed = installed_window_backends()
    parser.add_argument(
        "--window",
        type=_window_backend,
        default="glfw" if "glfw" in installed or not installed else installed[0],
        metavar="BACKEND",
        help="window backend for the app, one of those installed here: "
        f"{', '.join(installed) or 'none'} (default glfw)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "infer",
        help="run autoregressive generation and print the output",
        description="Run the model on an input and generate tokens (greedy unless a "
        "temperature > 0 is given). For nano-sort the output is the input sorted.",
    )
    p.add_argument("--input", required=True, help="input text, e.g. CBABBC (letters A, B, C)")
    p.add_argument("--model", default="nano-sort", help="preset or checkpoint directory")
    p.add_argument(
        "--temperature",
        type=_non_negative_float,
        default=0.0,
        help="0 (default) picks the most likely token; > 0 samples from softmax(logits / T)",
    )
    p.add_argument("--top-k", type=_positive_int, default=None, help="sample from the k best")
    p.add_argument(
        "--seed", type=_seed, default=0, help="random seed for sampling, 0..2**128-1 (default 0)"
    )
    p.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=None,
        help="tokens to generate (default: 6 for the sort task, else 4 as the app and render)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: input, output, logits (first forward pass: one row per "
        "input position, one column per vocabulary entry) and steps (per generated token: "
        "position in the sequence, probs it was chosen from, token)",
    )

    p = sub.add_parser(
        "train",
        help="train nano-sort and write checkpoints",
        description="Train nano-sort from a seeded random initialisation with AdamW. Writes "
        "DIR/step-NNNNNN/{config.json, model.safetensors} and DIR/metrics.jsonl (one JSON "
        "object per step: step, loss, accuracy, lr; plus sorted = inputs of 729 sorted "
        "correctly at each checkpoint). Ctrl-C keeps every checkpoint already written.",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory (new or empty)")
    p.add_argument("--steps", type=_positive_int, default=5000, help="optimiser steps (5000)")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="sequences per step (64); at most what the available memory holds",
    )
    p.add_argument("--lr", type=_positive_float, default=5e-4, help="learning rate > 0 (5e-4)")
    p.add_argument("--seed", type=_seed, default=0, help="seed for init and data, 0..2**128-1")
    p.add_argument(
        "--checkpoint-every", type=_positive_int, default=100, help="steps between checkpoints"
    )

    p = sub.add_parser(
        "render",
        help="render the scene headless (EGL, no display) to a PNG",
        description="Draw exactly what the window shows into a PNG through an offscreen EGL "
        "context; no display is needed.",
    )
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")
    p.add_argument("--model", default="nano-sort", help="preset or checkpoint directory")
    p.add_argument(
        "--input",
        default=None,
        help="input text for models with weights (default: CBABBC for nano-sort, a sentence "
        "for GPT-2 checkpoints)",
    )
    p.add_argument(
        "--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT in pixels (1280x720)"
    )
    p.add_argument(
        "--camera",
        type=_camera_text,
        default="overview",
        help="a preset (overview, front, top-layer, output) or a JSON object with target "
        "[x, y, z], distance, yaw, pitch (degrees), fov; the ranges depend on the model's size "
        "and a refusal states them",
    )
    p.add_argument(
        "--frames",
        type=_int_range(1, RENDER_FRAMES_MAX),
        default=1,
        help=f"frames to draw (timing), 1..{RENDER_FRAMES_MAX:,}",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write JSON: camera, visible tensors, frame-time statistics",
    )
    p.add_argument("--help-overlay", action="store_true", help="draw the controls overlay")
    p.add_argument(
        "--chapter", default=None, help="walkthrough chapter id (see `llmviz walkthrough --list`)"
    )
    p.add_argument(
        "--step", type=_positive_int, default=1, help="step of the chapter, from 1 (default 1)"
    )
    p.add_argument(
        "--progress",
        type=_unit_float,
        default=1.0,
        help="moment within the step, 0..1 (default 1: the step's end)",
    )
    p.add_argument(
        "--hover",
        type=_point,
        default=None,
        metavar="X,Y",
        help="hover the cursor at pixel X,Y: draws the tooltip and highlights, and the report "
        "gains 'hover' (tensor, cell, index, value, formula)",
    )

    p = sub.add_parser(
        "export-video",
        help="record a training run (checkpoints) or the walkthrough as a video",
        description="Render a training run's checkpoints (weights interpolated between them, "
        "the forward pass of the input at every frame) or the walkthrough headless and encode "
        "it. Lossless codecs (ffv1, x264rgb: .mkv) decode back bit-identical to the rendered "
        "frames; mp4 (H.264 yuv420p) for sharing; gif; png writes a folder of frames. The file "
        "appears at --out only when complete; Ctrl-C or an error leaves nothing there.",
    )
    p.add_argument(
        "--checkpoints", type=Path, default=None, help="a directory `llmviz train` wrote"
    )
    p.add_argument("--walkthrough", action="store_true", help="record the walkthrough instead")
    p.add_argument("--chapter", default=None, help="with --walkthrough: only this chapter")
    p.add_argument("--out", required=True, type=Path, help="video file (or folder for png)")
    p.add_argument(
        "--fps",
        type=_float_range(*FPS_RANGE),
        default=30.0,
        help=f"frames per second, {FPS_RANGE[0]:g}..{FPS_RANGE[1]:g} (gif: at most 50; 30)",
    )
    p.add_argument(
        "--seconds-per-checkpoint",
        type=_float_range(*SECONDS_PER_CHECKPOINT_RANGE),
        default=1.0,
        help="seconds each checkpoint gets, moving toward the next, "
        f"{SECONDS_PER_CHECKPOINT_RANGE[0]:g}..{SECONDS_PER_CHECKPOINT_RANGE[1]:g} (1)",
    )
    p.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (1280x720)")
    p.add_argument(
        "--camera", type=_camera_text, default="overview", help="preset or JSON, as for render"
    )
    p.add_argument(
        "--codec",
        choices=("ffv1", "x264rgb", "mp4", "gif", "png"),
        default=None,
        help="default from the file name: .mkv ffv1, .mp4 mp4, .gif gif, a folder png",
    )
    p.add_argument(
        "--normalise",
        choices=("tensor", "global"),
        default="global",
        help="colour range per tensor or one per kind over the model (global: steady colours "
        "while the weights change; default)",
    )

    p = sub.add_parser(
        "walkthrough",
        help="the guided walkthrough's chapters and steps",
        description="List the walkthrough chapters (files in walkthrough/) and their steps.",
    )
    p.add_argument("--list", action="store_true", help="print chapters and steps")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    p = sub.add_parser(
        "params",
        help="parameter counts per tensor kind, per block and in total",
        description="Count parameters from the configuration: per tensor kind, per block and "
        "in total, for the weight matrices alone and for everything.",
    )
    p.add_argument("--model", default="nano-sort", help="preset or checkpoint directory")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prog = "llmviz"
    try:
        args = build_parser().parse_args(argv)
        prog = f"llmviz {args.command}" if args.command else "llmviz"
        if args.command is None:
            return run_app(args)
        commands = {
            "infer": cmd_infer,
            "train": cmd_train,
            "params": cmd_params,
            "render": cmd_render,
            "walkthrough": cmd_walkthrough,
            "export-video": cmd_export_video,
        }
        return commands[args.command](args)
    except _CommandError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("llmviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `llmviz walkthrough --list | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _fail(message: str) -> UsageError:
    """One line for the user, printed as "llmviz COMMAND: message" with exit code 2."""
    return _CommandError(message)


def run_app(args: argparse.Namespace) -> int:
    from ..model.config import ConfigError
    from ..model.weights import WeightsError, resolve_model

    if args.model is not None:
        try:
            resolve_model(args.model)  # fail fast with a one-line message, before a window
        except (WeightsError, ConfigError) as e:
            raise _fail(str(e)) from None
    try:
        from ..app.window import run
    except ImportError as e:
        raise _fail(f"the desktop app cannot start: {e}") from None
    return run(args.model, args.window)


def cmd_export_video(args: argparse.Namespace) -> int:
    from .export import run_export

    return run_export(args, _fail)


def cmd_walkthrough(args: argparse.Namespace) -> int:
    from ..walkthrough.chapters import load_chapters

    chapters = load_chapters()
    for err in chapters.errors:
        print(f"llmviz: warning: skipped {err}", file=sys.stderr)
    if args.json:
        listing = [
            {
                "id": c.id,
                "title": c.title,
                "duration": c.duration,
                "steps": [{"step": k + 1, "title": s.title} for k, s in enumerate(c.steps)],
            }
            for c in chapters.chapters
        ]
        print(json.dumps(listing, indent=2))
        return 0
    for n, c in enumerate(chapters.chapters, start=1):
        print(f"{n:2d}. {c.title}  [{c.id}]  {len(c.steps)} steps, {c.duration:.0f} s")
        for k, s in enumerate(c.steps, start=1):
            print(f"      {k}. {s.title}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .render import run_render

    return run_render(args, _fail)


def _load(spec: str):
    from ..model.config import ConfigError
    from ..model.weights import WeightsError, resolve_model

    try:
        return resolve_model(spec)
    except (WeightsError, ConfigError) as e:
        raise _fail(str(e)) from None


def cmd_infer(args: argparse.Namespace) -> int:
    import numpy as np

    from ..model.counts import trace_dtype
    from ..model.generate import generate
    from ..model.gpt import forward
    from ..model.tokenizer import TokenizerError
    from ..session.loaded import NEW_TOKENS, tokenizer_for

    cfg, params = _load(args.model)
    if params is None:
        raise _fail(f"{cfg.name} is a render-only preset without weights; pass --model DIR")
    if args.input == "":
        raise _fail("--input is empty; give at least one token, e.g. CBABBC")
    try:
        # the app's and render's tokenizer: letters, or the folder's tokenizer.json /
        # vocab.json + merges.txt
        tok = tokenizer_for(args.model, cfg)
        if tok is None:
            raise TokenizerError(
                f"{args.model}: no character vocabulary in config.json and no tokenizer.json "
                "(or vocab.json + merges.txt) next to it; cannot tokenise"
            )
        ids = tok.encode(args.input)
    except TokenizerError as e:
        raise _fail(f"--input {args.input[:80]!r}: {e}") from None
    if int(ids.max()) >= cfg.vocab_size:
        raise _fail(
            f"{getattr(tok, 'source', args.model)}: the tokenizer gives token id "
            f"{int(ids.max())} but the model's vocabulary has {cfg.vocab_size} entries"
        )
    task_len = (cfg.task or {}).get("length")
    n_new = args.max_new_tokens or task_len or NEW_TOKENS
    room = cfg.block_size - n_new + 1
    if len(ids) > room:
        raise _fail(
            f"--input has {len(ids)} tokens but {cfg.name}'s context of {cfg.block_size} "
            f"allows at most {room} with {n_new} new tokens"
        )
    if args.top_k is not None and args.top_k > cfg.vocab_size:
        raise _fail(f"--top-k {args.top_k} exceeds the vocabulary of {cfg.vocab_size}")
    # weights that overflow float32 give inf/NaN logits: refused below, not warned about
    with np.errstate(all="ignore"):
        gen = generate(cfg, params, ids, n_new, args.temperature, args.top_k, args.seed)
        # the trace render and the app draw: the input and the generated tokens but the last
        # (never fed back); its input rows are the logits of the first forward pass
        full = np.concatenate([ids, gen.tokens[0][:-1]])
        logits = forward(cfg, params, full, dtype=trace_dtype(cfg)).logits[0, : len(ids)]
    probs = [s.probs[0] for s in gen.steps]
    if not (np.isfinite(logits).all() and all(np.isfinite(p).all() for p in probs)):
        raise _fail(
            f"--model {args.model}: the forward pass overflows (logits NaN or inf: weights too "
            "large for float32?); no output"
        )
    output = tok.decode(gen.tokens[0])
    if args.json:
        report = {
            "input": args.input,
            "output": output,
            "logits": logits.astype(float).tolist(),
            "steps": [
                {
                    "position": s.position,
                    "probs": s.probs[0].astype(float).tolist(),
                    "token": tok.decode([s.token[0]]),
                }
                for s in gen.steps
            ],
        }
        print(json.dumps(report, allow_nan=False))
    else:
        print(output)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import run_training

    return run_training(args, _fail)


def cmd_params(args: argparse.Namespace) -> int:
    from ..model.config import ConfigError
    from ..model.counts import count_params
    from ..model.weights import WeightsError, resolve_config

    try:  # the config, checked against the safetensors header: no tensor data is read
        cfg = resolve_config(args.model)
    except (WeightsError, ConfigError) as e:
        raise _fail(str(e)) from None
    counts = count_params(cfg)
    if args.json:
        print(
            json.dumps(
                {
                    "model": cfg.name,
                    "kinds": [
                        {
                            "kind": k.kind,
                            "title": k.title,
                            "per_layer": k.per_layer,
                            "total": k.total,
                            "matrix": k.is_matrix,
                        }
                        for k in counts.kinds
                    ],
                    "block_matrices": counts.block_matrices,
                    "block_total": counts.block_total,
                    "n_layer": cfg.n_layer,
                    "matrices_total": counts.matrices_total,
                    "total": counts.total,
                    "tied_embeddings": counts.tied,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{cfg.name}: {cfg.n_layer} layers, {cfg.n_head} heads, n_embd {cfg.n_embd}, "
        f"vocabulary {cfg.vocab_size}, context {cfg.block_size}"
    )
    w = 28
    print(f"\n{'tensor kind':<{w}} {'per block':>16} {'whole model':>18}")
    for section, is_matrix in (("weight matrices", True), ("everything else", False)):
        print(f"-- {section}")
        for k in counts.kinds:
            if k.is_matrix != is_matrix:
                continue
            title = k.title + (" — tied to wte" if k.kind == "unembedding" and counts.tied else "")
            per = f"{k.per_layer:,}" if k.per_layer else "—"
            print(f"  {title:<{w - 2}} {per:>16} {k.total:>18,}")
    print(f"\n{'one block, matrices only':<{w}} {counts.block_matrices:>16,}")
    print(f"{'one block, everything':<{w}} {counts.block_total:>16,}   (x {cfg.n_layer} blocks)")
    print(f"{'total, matrices only':<{w}} {'':>16} {counts.matrices_total:>18,}")
    print(f"{'total, everything':<{w}} {'':>16} {counts.total:>18,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
