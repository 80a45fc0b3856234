"""The running program's state: the loaded model, view / input / controllers, the walkthrough
stage, live training and replay, settings and the error log. No GL, no imgui."""
