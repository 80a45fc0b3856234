"""The imgui user interface: panels as plain draw_*(state) functions, and input glue."""
