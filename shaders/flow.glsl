#version 330 core
// Data-flow paths (scene/flow.py): one instance per line segment, arrowhead or "+" join, each
// a camera-facing quad built in the vertex shader from its projected end points and shaded by
// a distance in pixels (anti-aliased edges). Widths are in pixels; the whole flow fades out
// where the layout's gaps shrink below a few pixels (a far model would turn into a smear).
#include "common.glsl"

#if defined VERTEX_SHADER
in vec3 in_a;        // segment start (arrowhead: start of the last segment; join: centre)
in vec3 in_b;        // segment end (arrowhead: the tip)
in vec4 in_shape;    // form (0 line, 1 last line of a path, 2 arrowhead, 3 join), kind,
                     // local gap (world, for fading), join radius (world)
in vec2 in_emph;     // x: 0..1, brighter for what the hover or the walkthrough is about;
                     // y: opacity (the walkthrough fades boxes, and their paths with them)

out vec2 v_uv;       // pixels: along the segment from a (or from the tip), across it
flat out vec4 v_geom;   // form, half width, length (px), head half width (join: radius px)
flat out vec4 v_color;

const vec2 QUAD[6] = vec2[6](vec2(0, 0), vec2(1, 0), vec2(1, 1), vec2(0, 0), vec2(1, 1), vec2(0, 1));
// per kind (scene/flow.py KINDS): residual, add, input, weight
const vec3 COLOR[4] = vec3[4](vec3(0.55, 0.80, 1.00), vec3(1.00, 0.74, 0.38),
                              vec3(0.78, 0.82, 0.92), vec3(0.48, 0.64, 1.00));
const float ALPHA[4] = float[4](0.55, 0.45, 0.30, 0.12);
const float WIDTH[4] = float[4](2.2, 1.6, 1.3, 1.0);
const vec3 LIT = vec3(1.00, 0.86, 0.58);

vec2 to_screen(vec4 c) { return (c.xy / c.w * 0.5 + 0.5) * u_viewport.xy; }

vec4 to_clip(vec2 s, float ndc_z) { return vec4(s * u_viewport.zw * 2.0 - 1.0, ndc_z, 1.0); }

void hide() {
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // outside the clip volume: nothing drawn
    v_uv = vec2(0.0);
    v_geom = vec4(0.0);
    v_color = vec4(0.0);
}

void main() {
    int form = int(in_shape.x + 0.5);
    int kind = clamp(int(in_shape.y + 0.5), 0, 3);
    float e = clamp(in_emph.x, 0.0, 1.0);
    vec2 q = QUAD[gl_VertexID % 6];

    vec4 ca = u_view_proj * vec4(in_a, 1.0);
    vec4 cb = u_view_proj * vec4(in_b, 1.0);
    // clip against the near plane (z = -w) so a segment passing the camera keeps its far part
    float da = ca.z + ca.w, db = cb.z + cb.w;
    if (form == 3) db = da;
    if (da <= 0.0 && db <= 0.0) { hide(); return; }
    if (da < 0.0) ca = mix(ca, cb, da / (da - db));
    if (db < 0.0) cb = mix(cb, ca, db / (db - da));
    ca.w = max(ca.w, 1e-6);
    cb.w = max(cb.w, 1e-6);

    // fade where a gap of the layout is under ~3 px: flow is unreadable there anyway
    float px_world = u_eye.w * ca.w;  // world units per pixel at the segment's start
    float gap_px = in_shape.z / max(px_world, 1e-12);
    float fade = smoothstep(1.2, 4.0, gap_px) * clamp(in_emph.y, 0.0, 1.0);
    if (fade <= 0.0) { hide(); return; }

    vec3 col = mix(COLOR[kind], LIT, 0.65 * e);
    float alpha = mix(ALPHA[kind], 0.95, e) * fade;
    float half_w = 0.5 * (WIDTH[kind] + 1.2 * e);
    v_color = vec4(col, alpha);

    vec2 sa = to_screen(ca), sb = to_screen(cb);
    float za = ca.z / ca.w, zb = cb.z / cb.w;
    vec2 d = sb - sa;
    float len = length(d);
    vec2 dir = len > 1e-4 ? d / len : vec2(1.0, 0.0);
    vec2 nrm = vec2(-dir.y, dir.x);
    // arrowheads: a few widths long, never more than ~half the last segment
    float head = min(4.0 + 5.0 * half_w, 0.5 * len);

    if (form == 3) {  // join: a ring with a plus, its radius in world units, at least 5 px
        float r = max(in_shape.w / max(px_world, 1e-12), 5.0);
        vec2 p = (q * 2.0 - 1.0) * (r + 1.5);
        gl_Position = to_clip(sa + p, za);
        v_uv = p;
        v_geom = vec4(3.0, half_w, 0.0, r);
        v_color = vec4(mix(COLOR[0], LIT, 0.65 * e), mix(0.75, 1.0, e) * fade);
        return;
    }
    if (form == 2) {  // arrowhead: tip at b, pointing along a -> b
        if (head < 1.0) { hide(); return; }
        float hw = 0.6 * head;
        float u = mix(-head - 1.5, 1.5, q.x);
        float v = (q.y * 2.0 - 1.0) * (hw + 1.5);
        vec2 s = sb + dir * u + nrm * v;
        gl_Position = to_clip(s, zb);
        v_uv = vec2(u, v);
        v_geom = vec4(2.0, half_w, head, hw);
        return;
    }
    if (form == 1) len = max(len - 0.7 * head, 0.0);  // the line stops under its arrowhead
    float pad = half_w + 1.0;
    float u = mix(-pad, len + pad, q.x);
    float v = (q.y * 2.0 - 1.0) * pad;
    float t = len > 0.0 ? clamp(u / max(length(d), 1e-4), 0.0, 1.0) : 0.0;
    gl_Position = to_clip(sa + dir * u + nrm * v, mix(za, zb, t));
    v_uv = vec2(u, v);
    v_geom = vec4(0.0, half_w, len, 0.0);
}

#elif defined FRAGMENT_SHADER
in vec2 v_uv;
flat in vec4 v_geom;
flat in vec4 v_color;
out vec4 f_color;

void main() {
    int form = int(v_geom.x + 0.5);
    float half_w = v_geom.y;
    float cover;
    if (form == 3) {
        // ring and plus over a dark disc, so the "+" reads over whatever is behind it
        float r = v_geom.w;
        float dist = length(v_uv);
        float w = max(1.0, 0.11 * r);
        float ring = abs(dist - (r - w)) - w;
        vec2 a = abs(v_uv);
        float arm = 0.55 * r;
        float plus = min(max(a.x - arm, a.y - w), max(a.y - arm, a.x - w));
        float lines = clamp(0.5 - min(ring, plus), 0.0, 1.0);
        float disc = clamp(0.5 - (dist - r), 0.0, 1.0);
        vec3 col = mix(vec3(0.035, 0.043, 0.06), v_color.rgb, lines);
        float alpha = max(disc * 0.8, lines) * v_color.a;
        if (alpha <= 0.002) discard;
        f_color = vec4(col, alpha);
        return;
    }
    if (form == 2) {
        float head = v_geom.z, hw = v_geom.w;
        float u = v_uv.x, v = abs(v_uv.y);
        // distance to the triangle tip (0, 0), base at u = -head, half width hw
        float slant = (v * head + u * hw) / sqrt(head * head + hw * hw);
        float dist = max(slant, -head - u);
        cover = clamp(0.5 - dist, 0.0, 1.0);
    } else {
        float len = v_geom.z;
        vec2 p = vec2(max(max(-v_uv.x, v_uv.x - len), 0.0), v_uv.y);
        cover = clamp(half_w + 0.5 - length(p), 0.0, 1.0);
    }
    float alpha = cover * v_color.a;
    if (alpha <= 0.002) discard;
    f_color = vec4(v_color.rgb, alpha);
}
#endif
