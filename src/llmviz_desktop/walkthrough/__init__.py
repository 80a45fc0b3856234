"""The guided walkthrough: chapter files (walkthrough/*.toml) -> timeline -> the scene state at
any (chapter, step, progress). Pure: no GL, no imgui."""
