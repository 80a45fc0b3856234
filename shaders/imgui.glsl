#version 330 core
// Dear ImGui draw lists: 2D triangles in display coordinates (origin top-left, y down), one
// texture per draw command. Colours are straight (non-premultiplied) sRGB bytes; blending is
// done by the fixed-function stage (src alpha, 1 - src alpha), exactly as Dear ImGui expects.
// Single-channel (Alpha8) atlases are sampled through a 111R swizzle set on the texture, so
// this shader sees every texture as RGBA.

#if defined VERTEX_SHADER
uniform vec2 u_scale;      // 2 / display size, y negated: display coords -> NDC
uniform vec2 u_translate;  // -1 - display_pos * scale (x), 1 - display_pos * scale (y)

in vec2 in_pos;    // ImDrawVert.pos, display coordinates
in vec2 in_uv;     // ImDrawVert.uv
in vec4 in_color;  // ImDrawVert.col, normalised RGBA bytes

out vec2 v_uv;
out vec4 v_color;

void main() {
    v_uv = in_uv;
    v_color = in_color;
    gl_Position = vec4(in_pos * u_scale + u_translate, 0.0, 1.0);
}

#elif defined FRAGMENT_SHADER
uniform sampler2D u_texture;

in vec2 v_uv;
in vec4 v_color;

out vec4 f_color;

void main() {
    f_color = v_color * texture(u_texture, v_uv);
}
#endif
