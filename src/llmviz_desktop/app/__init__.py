"""The desktop window and the frame loop every front end shares (tick)."""
