// Shared declarations. The Globals block's layout is defined once in Python
// (llmviz_desktop/render/ubo.py, GLOBALS) and tested against this declaration.
layout(std140) uniform Globals {
    mat4 u_view_proj;   // clip = u_view_proj * world
    vec4 u_eye;         // xyz camera position; w world units per pixel at distance 1
    vec4 u_viewport;    // width, height, 1/width, 1/height (pixels)
    vec4 u_color;       // x scale (0 linear, 1 symlog); y symlog linear range; z grid; w unused
};

// Highlighted cells: layout defined once in Python (render/ubo.py, HIGHLIGHTS).
#define MAX_HIGHLIGHTS 32
layout(std140) uniform Highlights {
    ivec4 u_hl_count;                 // x: entries in use
    vec4 u_hl_box[MAX_HIGHLIGHTS];    // x box index, y role (0 cell, 1 row/col, 2 source)
    vec4 u_hl_range[MAX_HIGHLIGHTS];  // row0, row1, col0, col1 (half-open); -1 = all
};
