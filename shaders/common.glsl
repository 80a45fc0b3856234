// Shared declarations. The Globals block's layout is defined once in Python
// (llmviz_desktop/render/ubo.py, GLOBALS) and tested against this declaration.
layout(std140) uniform Globals {
    mat4 u_view_proj;   // clip = u_view_proj * world
    vec4 u_eye;         // xyz camera position; w world units per pixel at distance 1
    vec4 u_viewport;    // width, height, 1/width, 1/height (pixels)
    vec4 u_color;       // x scale (0 linear, 1 symlog); y symlog linear range; z grid; w time
    vec4 u_highlight;   // x box index (-1 none), y row, z col
};
