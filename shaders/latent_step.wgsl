// The latents' whole backward step and update, fused: for each latent of the slot, the distortion
// gradient through the bilinear upsampling (latent_upsample_backward's rule, separably: the rows of
// dFeatures come already summed along x into latent columns by synthesis_head_backward, so this
// sums at most 2 * stride of them along y), plus its own rate and what its
// consumers' context rows send back (dctx from arm_step; taps unrolled by
// src/gpu/kernels/latent_step.ts), times the quantization proxy's slope, then one Adam step on the
// latent. Replaces latent_upsample_backward, latent_gradient and the latents' adam dispatch.
struct Hyper { lr: f32, beta1: f32, beta2: f32, epsilon: f32, correction1: f32, correction2: f32, weightDecay: f32, gradScale: f32 }

@group(0) @binding(0) var<storage, read> dRows: array<f32>; // per level [FRAMES * HEIGHT][level width]
@group(0) @binding(1) var<storage, read> dctx: array<vec4f>;      // [FRAMES * PER_FRAME][DCTX_VEC4S]
@group(0) @binding(2) var<storage, read> slope: array<f32>;
@group(0) @binding(3) var<uniform> hyper: Hyper;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;

override WIDTH: u32;
override HEIGHT: u32;
override FRAMES: u32;
override PER_FRAME: u32;
override DCTX_VEC4S: u32;
override GRID_X: u32;

/** Pixels [lo, hi] along an axis whose interpolation gives latent c a non-zero weight (all of them at clamped edges). */
fn window(c: u32, stride: u32, cells: u32, size: u32) -> vec2u {
  // Pixel p weighs latent floor(g) by 1 - frac(g) and the next by frac(g), g = (p + 1/2) / s - 1/2:
  // for even strides both are non-zero from p = cs - s/2 to p = cs + 3s/2 - 1.
  let lo = select(c * stride - stride / 2u, 0u, c == 0u);
  let hi = select(min(size - 1u, c * stride + stride + stride / 2u - 1u), size - 1u, c + 1u == cells);
  return vec2u(lo, hi);
}

/** Sum along y of the level's x-reduced rows, weighted as the upsampling weighs latent (cy, cx). */
fn distortionGradient(stride: u32, width: u32, height: u32, rowBase: u32, j: u32, cy: u32, cx: u32) -> f32 {
  let inv = 1.0 / f32(stride);
  let last = f32(height - 1u);
  let ys = window(cy, stride, height, HEIGHT);
  var sum = 0.0;
  for (var py = ys.x; py <= ys.y; py++) {
    // Bilinear weight of row cy at pixel row py: a tent around it, 1 where clamped at the edges.
    let w = max(0.0, 1.0 - abs(clamp((f32(py) + 0.5) * inv - 0.5, 0.0, last) - f32(cy)));
    sum += w * dRows[rowBase + (j * HEIGHT + py) * width + cx];
  }
  return sum;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * GRID_X + gid.x;
  if (i >= FRAMES * PER_FRAME) { return; }
  let j = i / PER_FRAME;
  let r = i % PER_FRAME;
  // This latent's level, its size and its finer neighbour's, as constants chosen per lane (a
  // uniform array indexed per lane is slow on CPU adapters).
{{LEVEL}}
  let y0 = (r - lOffset) / lWidth;
  let x0 = (r - lOffset) % lWidth;
  let iy = i32(y0);
  let ix = i32(x0);
  let w = i32(lWidth);
  let h = i32(lHeight);
  let hasChild = l > 0u;
  let childBase = j * PER_FRAME + cOffset;
  let cw = i32(cWidth);
  let ch = i32(cHeight);
  let nextFrame = j + 1u < FRAMES;
  let iw = i32(i);
  let selfAnchor = ((ix + iy) & 1) == 0;
  var g = distortionGradient(lStride, lWidth, lHeight, rowBase, j, y0, x0) + dctx[i * DCTX_VEC4S + {{OWN_VEC4}}u].{{OWN_LANE}};
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
