// The latents' whole backward step and update, fused: for each latent of the slot, the distortion
// gradient gathered from dFeatures through the bilinear upsampling (latent_upsample_backward's
// rule, reading 4 pixels per vec4 from a per-level plane layout), plus its own rate and what its
// consumers' context rows send back (dctx from arm_step; taps unrolled by
// src/gpu/kernels/latent_step.ts), times the quantization proxy's slope, then one Adam step on the
// latent. Replaces latent_upsample_backward, latent_gradient and the latents' adam dispatch.
struct Level { stride: u32, width: u32, height: u32, offset: u32 }
struct Hyper { lr: f32, beta1: f32, beta2: f32, epsilon: f32, correction1: f32, correction2: f32, weightDecay: f32, gradScale: f32 }

@group(0) @binding(0) var<storage, read> dFeatures: array<vec4f>; // [LEVELS][FRAMES * HEIGHT][ROW_VEC4S]
@group(0) @binding(1) var<storage, read> dctx: array<vec4f>;      // [FRAMES * PER_FRAME][DCTX_VEC4S]
@group(0) @binding(2) var<storage, read> slope: array<f32>;
@group(0) @binding(3) var<uniform> levels: array<Level, 12>;
@group(0) @binding(4) var<uniform> hyper: Hyper;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> m: array<f32>;
@group(0) @binding(7) var<storage, read_write> v: array<f32>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override LEVELS: u32;
override PER_FRAME: u32;
override ROW_VEC4S: u32;
override DCTX_VEC4S: u32;
override GRID_X: u32;

/** Weight of latent c in the interpolation of pixels p (4 lanes) along an axis of `cells` latents at stride s. */
fn axisWeights(p: vec4f, invStride: f32, cells: u32, c: u32) -> vec4f {
  let last = f32(cells - 1u);
  let g = clamp((p + 0.5) * invStride - 0.5, vec4f(0.0), vec4f(last));
  let i0 = min(floor(g), vec4f(last));
  let i1 = min(i0 + 1.0, vec4f(last));
  let f = g - i0;
  let cf = vec4f(f32(c));
  return select(vec4f(0.0), 1.0 - f, i0 == cf) + select(vec4f(0.0), f, i1 == cf);
}

/** Pixels [lo, hi] along an axis whose interpolation gives latent c a non-zero weight (all of them at clamped edges). */
fn window(c: u32, stride: u32, cells: u32, size: u32) -> vec2u {
  // Pixel p weighs latent floor(g) by 1 - frac(g) and the next by frac(g), g = (p + 1/2) / s - 1/2:
  // for even strides both are non-zero from p = cs - s/2 to p = cs + 3s/2 - 1.
  let lo = select(c * stride - stride / 2u, 0u, c == 0u);
  let hi = select(min(size - 1u, c * stride + stride + stride / 2u - 1u), size - 1u, c + 1u == cells);
  return vec2u(lo, hi);
}

fn distortionGradient(l: u32, j: u32, cy: u32, cx: u32) -> f32 {
  let level = levels[l];
  let rows = (l * FRAMES + j) * HEIGHT;
  if (level.stride == 1u) {
    // Each pixel reads exactly its own latent with weight 1.
    let p = (rows + cy) * ROW_VEC4S * 4u + cx;
    return dFeatures[p / 4u][p % 4u];
  }
  let inv = 1.0 / f32(level.stride);
  let xs = window(cx, level.stride, level.width, WIDTH);
  let ys = window(cy, level.stride, level.height, HEIGHT);
  var sum = 0.0;
  for (var py = ys.x; py <= ys.y; py++) {
    let wy = axisWeights(vec4f(f32(py)), inv, level.height, cy).x;
    var row = vec4f(0.0);
    for (var q = xs.x / 4u; q <= xs.y / 4u; q++) {
      let p = vec4f(f32(4u * q)) + vec4f(0.0, 1.0, 2.0, 3.0);
      // Lanes past the window (the row's padding included) weigh nothing, whatever they hold.
      let inside = p <= vec4f(f32(xs.y));
      let wx = select(vec4f(0.0), axisWeights(p, inv, level.width, cx), inside);
      row += select(vec4f(0.0), wx * dFeatures[(rows + py) * ROW_VEC4S + q], inside);
    }
    sum += wy * (row.x + row.y + row.z + row.w);
  }
  return sum;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= FRAMES * PER_FRAME) { return; }
  let j = i / PER_FRAME;
  let r = i % PER_FRAME;
  var l = 0u;
  for (var k = 1u; k < LEVELS; k++) {
    if (levels[k].offset <= r) { l = k; }
  }
  let level = levels[l];
  let y0 = (r - level.offset) / level.width;
  let x0 = (r - level.offset) % level.width;
  let iy = i32(y0);
  let ix = i32(x0);
  let w = i32(level.width);
  let h = i32(level.height);
  let child = levels[select(l - 1u, 0u, l == 0u)];
  let hasChild = l > 0u;
  let childBase = j * PER_FRAME + child.offset;
  let cw = i32(child.width);
  let ch = i32(child.height);
  let nextFrame = j + 1u < FRAMES;
  var g = distortionGradient(l, j, y0, x0) + dctx[i * DCTX_VEC4S + {{OWN_VEC4}}u].{{OWN_LANE}};
{{CONSUMERS}}
  g *= slope[i];
  // Adam, as in adam.wgsl.
  let gs = g * hyper.gradScale;
  let p = y[i];
  let m1 = hyper.beta1 * m[i] + (1.0 - hyper.beta1) * gs;
  let v1 = hyper.beta2 * v[i] + (1.0 - hyper.beta2) * gs * gs;
  let update = (m1 * hyper.correction1) / (sqrt(v1 * hyper.correction2) + hyper.epsilon) + hyper.weightDecay * p;
  y[i] = p - hyper.lr * update;
  m[i] = m1;
  v[i] = v1;
}
