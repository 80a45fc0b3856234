"""Everything that touches OpenGL (moderngl) lives in this package."""
