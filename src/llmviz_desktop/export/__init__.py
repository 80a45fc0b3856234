"""Writing videos and animated GIFs frame by frame (no GL)."""
