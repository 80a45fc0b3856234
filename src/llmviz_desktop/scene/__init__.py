"""The picture of a model, pure Python + numpy: boxes laid out in 3D, the camera, picking,
labels, colours, explanations of every cell and the analysis views. No GL, no imgui."""
