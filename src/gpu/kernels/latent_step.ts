// The fused latent backward step and update (shaders/latent_step.wgsl); consumers of each latent's
// context unrolled from the tap list. CPU twin: latentStepCpu in src/cpu/fused.ts.
import type { GpuContext, GpuProgram } from '../context.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { ADAM_HYPER_FLOATS } from './adam.ts';
import type { ContextSpec, LatentGeometry } from '../../cpu/latents.ts';

const XYZW = 'xyzw';

/**
 * d loss / d features reduced along x through the upsampling: for each level l, [frames * H rows]
 * [width_l latent columns] (what synthesis_head_backward writes and latent_step reduces along y).
 */
export function rowSumLayout(geom: LatentGeometry, frames: number): { bases: number[]; floats: number } {
  const bases: number[] = [];
  let at = 0;
  for (const level of geom.levels) {
    bases.push(at);
    at += frames * geom.height * level.width;
  }
  return { bases, floats: at };
}

/** WGSL adding, for each tap, what the consumers that read this latent through it send back. */
function consumerSource(spec: ContextSpec, dctxVec4s: number): string {
  const lines: string[] = [];
  const read = (k: number, index: string, ok: string) =>
    `  g += select(0.0, dctx[select(0u, ${index}, ${ok}) * ${dctxVec4s}u + ${k >> 2}u].${XYZW[k & 3]}, ${ok});`;
  spec.taps.forEach((tap, k) => {
    if (tap.from === 'parent') {
      // Children (2(y - dy) + ey, 2(x - dx) + ex) of the next finer level read this latent as their parent.
      for (let e = 0; e < 4; e++) {
        const cy = `(2 * (iy - ${tap.dy}) + ${e >> 1})`;
        const cx = `(2 * (ix - ${tap.dx}) + ${e & 1})`;
        lines.push(
          `  { let ok = hasChild & (u32${cy} < u32(ch)) & (u32${cx} < u32(cw));`,
          `  ${read(k, `childBase + u32(${cy} * cw + ${cx})`, 'ok')} }`,
        );
      }
      return;
    }
    // The consumer sits at (y - dy, x - dx) of the same level, in this frame or the next.
    const cy = `(iy - ${tap.dy})`;
    const cx = `(ix - ${tap.dx})`;
    const inside = `(u32${cy} < u32(h)) & (u32${cx} < u32(w))`;
    let ok: string;
    let index: string;
    if (tap.from === 'current') {
      // Checkerboard anchors ((x + y) even) read no 'current' taps.
      ok = spec.schedule === 'raster' ? inside : `${inside} & (((${cx} + ${cy}) & 1) == 1)`;
      index = `u32(i32(i) - (${tap.dy}) * w - (${tap.dx}))`;
    } else {
      ok = `nextFrame & ${inside}`;
      index = `u32(i32(i + PER_FRAME) - (${tap.dy}) * w - (${tap.dx}))`;
    }
    lines.push(`  { let ok = ${ok};`, `  ${read(k, index, 'ok')} }`);
  });
  return lines.join('\n');
}

export interface LatentStepBuffers {
  /** d loss / d features summed along x into latent columns (rowSumLayout). */
  dRows: GPUBuffer;
  /** arm_step's rows: the taps' gradients, then d rate / d latent. */
  dctx: GPUBuffer;
  slope: GPUBuffer;
  levels: GPUBuffer;
  hyper: GPUBuffer;
  /** The slot's float latents and their Adam moments (slot-relative). */
  y: GPUBuffer;
  m: GPUBuffer;
  v: GPUBuffer;
}

export function latentStep(ctx: GpuContext, geom: LatentGeometry, spec: ContextSpec, frames: number, buffers: LatentStepBuffers): GpuProgram {
  const kernel = 'latentStep';
  requirePositiveIntegers(kernel, { frames, perFrame: geom.perFrame, width: geom.width, height: geom.height });
  const n = frames * geom.perFrame;
  const dctxVec4s = Math.ceil((spec.taps.length + 1) / 4);
  requireBufferFloats(kernel, 'dRows', buffers.dRows, rowSumLayout(geom, frames).floats);
  requireBufferFloats(kernel, 'dctx', buffers.dctx, n * dctxVec4s * 4);
  for (const name of ['slope', 'y', 'm', 'v'] as const) requireBufferFloats(kernel, name, buffers[name], n);
  requireBufferFloats(kernel, 'hyper', buffers.hyper, ADAM_HYPER_FLOATS);
  const T = spec.taps.length;
  const grid = invocationGrid(ctx, n);
  const pipeline = ctx.pipeline('latent_step', { OWN_VEC4: T >> 2, OWN_LANE: XYZW[T & 3], CONSUMERS: consumerSource(spec, dctxVec4s) }, 'main', {
    WIDTH: geom.width, HEIGHT: geom.height, FRAMES: frames, LEVELS: geom.levels.length, PER_FRAME: geom.perFrame,
    DCTX_VEC4S: dctxVec4s, GRID_X: grid.gridX,
  });
  const b = buffers;
  return ctx.dispatch(pipeline, [b.dRows, b.dctx, b.slope, b.levels, b.hyper, b.y, b.m, b.v], grid.workgroups);
}
