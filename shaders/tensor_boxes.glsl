#version 330 core
// One instance per tensor: a slab of rows x cols cells. The fragment shader finds the cell under
// each pixel and reads its value from the value atlas (texelFetch), so cost scales with pixels,
// not cells. Shells (no values) get a procedural texture instead.
#include "common.glsl"

#if defined VERTEX_SHADER
// No vertex buffer: gl_VertexID 0..17 builds the three faces of the box that look toward the
// eye (one per axis; from outside a box no other face can be seen), two triangles each.
// Half the vertices of a full cube, and vertex work is what software GL pays for.
in vec3 in_origin;   // per instance: min corner
in vec3 in_size;
in vec2 in_cells;    // cols, rows
in vec2 in_tex;      // atlas texel of cell (0, 0); x = -1: no values, -2: a tile
in vec4 in_style;    // kind, alpha, 1 / max|value|, heads merged
in vec4 in_anim;     // reveal fraction, reveal order, highlight, a tile's value
in vec2 in_lod;      // cells per texel (big tensors are uploaded block-averaged)

out vec3 v_local;
flat out vec4 v_anim;
flat out vec2 v_lod;
flat out vec3 v_normal;
flat out vec2 v_shade;  // this face's light: colour * x + y
flat out vec2 v_cells;
flat out vec2 v_tex;
flat out vec4 v_style;
flat out int v_box;

const vec2 QUAD[6] = vec2[6](vec2(0, 0), vec2(1, 0), vec2(1, 1), vec2(0, 0), vec2(1, 1), vec2(0, 1));

// Fixed light by face, so depth reads on a still image: the front face (the cells) at full
// brightness, the top a little lighter (lit from above), the sides darker, the bottom darkest.
// Subtle: the cell colours must stay readable on every face.
vec2 face_light(vec3 n) {
    if (n.z > 0.5) return vec2(1.0, 0.0);      // front
    if (n.y > 0.5) return vec2(1.08, 0.03);    // top
    if (n.y < -0.5) return vec2(0.62, 0.0);    // bottom
    if (n.z < -0.5) return vec2(0.85, 0.0);    // back (seen from behind)
    return vec2(0.74, 0.0);                    // left / right sides
}

void main() {
    // keep every box at least ~1.5 px on screen: far-away or very thin tensors would
    // otherwise fall between pixels and the model would break up into dots
    // (pixel size taken at the box's nearest point: a huge box beside the camera stays exact)
    vec3 centre = in_origin + 0.5 * in_size;
    vec3 nearest = clamp(u_eye.xyz, in_origin, in_origin + in_size);
    float px = u_eye.w * max(distance(u_eye.xyz, nearest), 1e-3);
    vec3 size = max(in_size, vec3(1.5 * px));

    int face = gl_VertexID / 6;  // 0: x, 1: y, 2: z
    vec2 q = QUAD[gl_VertexID % 6];
    vec3 toward = u_eye.xyz - centre;
    float side = toward[face] >= 0.0 ? 1.0 : 0.0;
    vec3 unit = face == 0 ? vec3(side, q.x, q.y) : face == 1 ? vec3(q.x, side, q.y)
                                                             : vec3(q.x, q.y, side);
    vec3 normal = vec3(0.0);
    normal[face] = side * 2.0 - 1.0;

    vec3 world = centre + (unit - 0.5) * size;
    gl_Position = u_view_proj * vec4(world, 1.0);
    v_local = unit;
    v_normal = normal;
    v_shade = face_light(normal);
    v_cells = in_cells;
    v_tex = in_tex;
    v_style = in_style;
    v_anim = in_anim;
    v_lod = in_lod;
    v_box = gl_InstanceID;
}

#elif defined FRAGMENT_SHADER
uniform sampler2D u_values;

in vec3 v_local;
flat in vec3 v_normal;
flat in vec2 v_shade;
flat in vec2 v_cells;
flat in vec2 v_tex;
flat in vec4 v_style;
flat in vec4 v_anim;
flat in vec2 v_lod;
flat in int v_box;
out vec4 f_color;

// Has the computation reached cell c yet? (walkthrough: values appear as it sweeps through)
bool revealed(vec2 c) {
    float f = v_anim.x;
    if (f >= 1.0) return true;
    int order = int(v_anim.y + 0.5);
    float k;
    if (order == 0) k = (c.x + (c.y + 0.5) / v_cells.y) / v_cells.x;  // token by token
    else if (order == 1) k = (c.y + (c.x + 0.5) / v_cells.x) / v_cells.y;  // row by row
    else if (order == 2) k = (c.y * v_cells.x + c.x + 0.5) / (v_cells.x * v_cells.y);
    else k = 0.5;  // all at once
    return k < f;
}

const vec3 ZERO = vec3(0.135, 0.145, 0.175);
const vec3 GRID = vec3(0.035, 0.04, 0.05);
// positive / negative ends of each kind's diverging ramp: weights blue, intermediates green,
// aggregates yellow, tokens grey
const vec3 POS[4] = vec3[4](vec3(0.30, 0.66, 1.00), vec3(0.36, 0.90, 0.46),
                            vec3(1.00, 0.84, 0.26), vec3(0.88, 0.90, 0.95));
const vec3 NEG[4] = vec3[4](vec3(0.66, 0.38, 0.98), vec3(0.08, 0.60, 0.66),
                            vec3(1.00, 0.50, 0.16), vec3(0.40, 0.42, 0.48));

// integer hash of a cell index: sin()-based hashes lose all precision for the tens of
// thousands of cells of a large model's tensor and collapse to one colour
float hash(vec2 p) {
    uvec2 q = uvec2(p);
    uint h = q.x * 1664525u + q.y * 1013904223u + 0x9e3779b9u;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return float(h) * (1.0 / 4294967296.0);
}

float value_at(vec2 cell) {
    ivec2 c = clamp(ivec2(floor(cell)), ivec2(0), ivec2(v_cells) - 1);
    ivec2 texel = ivec2(floor(vec2(c) / v_lod));  // the block this cell was averaged into
    return texelFetch(u_values, ivec2(v_tex) + texel, 0).r;
}

// normalised value in [-1, 1] (linear or symmetric-log)
float normalise(float v) {
    float n = clamp(v * v_style.z, -1.0, 1.0);
    if (u_color.x > 0.5) {
        float l = max(u_color.y, 1e-6);
        n = sign(n) * log(1.0 + abs(n) / l) / log(1.0 + 1.0 / l);
    }
    return n;
}

vec3 ramp(float n, int kind) {
    float m = pow(abs(n), 0.75);
    return n >= 0.0 ? mix(ZERO, POS[kind], m) : mix(ZERO, NEG[kind], m);
}

void main() {
    if (v_style.y < 0.01) discard;  // hidden by the walkthrough step
    int kind = int(v_style.x + 0.5);
    // The front and back faces carry the whole cell grid; the top and bottom show the first
    // and last row, the sides the first and last column, extruded through the box's depth
    // (picking maps a hit on any face to the cell under it the same way). uv: the face's own
    // coordinates in [0, 1], for its outline.
    vec2 cell;  // (column, row), fractional
    vec2 uv;
    if (abs(v_normal.z) > 0.5) {
        cell = vec2(v_local.x * v_cells.x, (1.0 - v_local.y) * v_cells.y);
        uv = v_local.xy;
    } else if (abs(v_normal.y) > 0.5) {
        cell = vec2(v_local.x * v_cells.x, v_normal.y > 0.0 ? 0.5 : v_cells.y - 0.5);
        uv = v_local.xz;
    } else {
        cell = vec2(v_normal.x > 0.0 ? v_cells.x - 0.5 : 0.5, (1.0 - v_local.y) * v_cells.y);
        uv = v_local.zy;
    }
    // cells per pixel; along the depth of a top or side face the cell does not change: no
    // gridlines that way (the tiny width puts every pixel far from a line)
    vec2 fw = max(fwidth(cell), vec2(1e-6));
    float footprint = max(fw.x, fw.y);
    bool face = abs(v_normal.z) > 0.5;  // front/back faces: highlight rings, head separators

    vec3 col;
    bool masked = false;
    if (v_tex.x < -1.5) {
        // a walkthrough tile: one number standing free, its value carried with it
        col = ramp(normalise(v_anim.w), kind);
    } else if (v_tex.x < 0.0) {
        // render-only shell: a procedural texture that fades to its mean when cells shrink
        float n = (hash(floor(cell)) - 0.5) * 1.2;
        col = mix(ramp(n, kind), mix(ZERO, POS[kind], 0.32), smoothstep(0.3, 1.0, footprint));
    } else if (footprint <= 1.0) {
        float v = value_at(cell);
        masked = isinf(v);
        col = masked ? vec3(0.07, 0.075, 0.09) : ramp(normalise(v), kind);
    } else {
        // several cells under one pixel: average a 3x3 footprint so nothing shimmers
        vec3 acc = vec3(0.0);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                float v = value_at(cell + (vec2(i, j) / 2.0 - 0.5) * fw);
                acc += isinf(v) ? vec3(0.07, 0.075, 0.09) : ramp(normalise(v), kind);
            }
        }
        col = acc / 9.0;
    }
    bool pending = !revealed(floor(cell));
    if (pending) col = ZERO * 0.55;  // not computed yet at this moment of the walkthrough
    if (masked && !pending) {  // causal mask: hatched
        float h = fract((cell.x + cell.y) * 2.0);
        col += (h < 0.5 ? 0.025 : 0.0);
    }

    // hover highlights: the hovered cell (0), its row and column (1), its formula's sources (2)
    int role = 3;
    vec2 c = floor(cell);
    for (int k = 0; k < u_hl_count.x; k++) {
        if (int(u_hl_box[k].x + 0.5) != v_box) continue;
        vec4 r = u_hl_range[k];
        bool rows_in = r.x < 0.0 || (c.y >= r.x && c.y < r.y);
        bool cols_in = r.z < 0.0 || (c.x >= r.z && c.x < r.w);
        if (rows_in && cols_in) role = min(role, int(u_hl_box[k].y + 0.5));
    }
    vec3 accent = role == 2 ? vec3(1.0, 0.62, 0.22) : vec3(1.0);
    if (role == 1) col = mix(col, vec3(1.0), 0.14);
    if (role == 0 || role == 2) col = mix(col, accent, 0.32);

    if (face && (role == 0 || role == 2)) {  // a crisp outline round each highlighted cell
        vec2 d = abs(fract(cell + 0.5) - 0.5) / fw;
        float ring = 1.0 - clamp(min(d.x, d.y) - 1.2, 0.0, 1.0);
        col = mix(col, accent, ring * (footprint < 0.25 ? 0.9 : 0.0));
    }
    // cell gridlines on every face, anti-aliased with fwidth, faded out before they turn
    // into moire
    vec2 d = abs(fract(cell + 0.5) - 0.5) / fw;
    float line = 1.0 - clamp(min(d.x, d.y) - 0.35, 0.0, 1.0);
    float fade = 1.0 - smoothstep(0.08, 0.25, footprint);
    col = mix(col, GRID, line * fade * u_color.z * 0.85);
    // head separators in boxes that stand for several heads (stacked along the rows), faded
    // out when heads are under a few pixels apart (else the whole face turns to separator)
    if (v_style.w > 1.5) {
        float period = v_cells.y / v_style.w;
        float dh = abs(fract(cell.y / period + 0.5) - 0.5) * period / fw.y;
        float shown = smoothstep(3.0, 8.0, period / fw.y);
        col = mix(col, GRID, (1.0 - clamp(dh - 1.0, 0.0, 1.0)) * shown);
    }
    // outline of every face: the box's edges stay visible at every zoom
    vec2 e = min(uv, 1.0 - uv) / max(fwidth(uv), vec2(1e-7));
    float edge = 1.0 - clamp(min(e.x, e.y) - 0.5, 0.0, 1.0);
    float lit = v_anim.z;  // the walkthrough step talks about this tensor
    col = mix(col, mix(POS[kind], vec3(1.0), 0.25 + 0.5 * lit), edge * (0.55 + 0.45 * lit));
    col *= 1.0 + 0.18 * lit;
    f_color = vec4(col * v_shade.x + v_shade.y, v_style.y);
}
#endif
