"""Small standalone demonstrations with their own background workers (pure numpy)."""
