"""Colours the panels share with each other and with the scene (one copy of each)."""

from __future__ import annotations

from imgui_bundle import ImVec4

MUTED = ImVec4(0.62, 0.66, 0.74, 1.0)  # secondary text in every panel

# the section brackets' colours, also used for the parameter overlay's group labels
SECTION_COLORS = {
    "embedding": (0.55, 0.75, 1.0),
    "attention": (0.45, 0.9, 0.55),
    "mlp": (0.35, 0.8, 0.95),
    "output": (1.0, 0.82, 0.35),
}

# the shader's colour ramps (shaders/tensor_boxes.glsl): negative end, zero, positive end
RAMPS = {
    "weight": ((0.66, 0.38, 0.98), (0.30, 0.66, 1.00)),
    "intermediate": ((0.08, 0.60, 0.66), (0.36, 0.90, 0.46)),
    "aggregate": ((1.00, 0.50, 0.16), (1.00, 0.84, 0.26)),
}
ZERO = (0.135, 0.145, 0.175)
