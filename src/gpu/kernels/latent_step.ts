// The fused latent backward step and update (shaders/latent_step.wgsl); consumers of each latent's
// context unrolled from the tap list. CPU twin: latentStepCpu in src/cpu/fused.ts.
import type { GpuContext, GpuProgram } from '../context.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { offsetName } from './arm_step.ts';
import { declareOnce } from './packed.ts';
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
  // Bounds tests shared by the taps with the same offset.
  const once = declareOnce(lines);
  const read = (k: number, index: string, ok: string) =>
    `  g += select(0.0, dctx[select(0u, ${index}, ${ok}) * ${dctxVec4s}u + ${k >> 2}u].${XYZW[k & 3]}, ${ok});`;
  spec.taps.forEach((tap, k) => {
    if (tap.from === 'parent' || tap.from === 'previous-parent') {
      // Children (2(y - dy) + ey, 2(x - dx) + ex) of the next finer level, in this frame or the
      // next, read this latent as their parent.
      const next = tap.from === 'previous-parent';
      for (let ey = 0; ey < 2; ey++) {
        for (let ex = 0; ex < 2; ex++) {
          const cy = `(2 * (iy - ${tap.dy}) + ${ey})`;
          const cx = `(2 * (ix - ${tap.dx}) + ${ex})`;
          const rowOk = once(`qy${offsetName(2 * tap.dy - ey)}`, `  let qy${offsetName(2 * tap.dy - ey)} = hasChild & (u32${cy} < u32(ch));`);
          const colOk = once(`qx${offsetName(2 * tap.dx - ex)}`, `  let qx${offsetName(2 * tap.dx - ex)} = u32${cx} < u32(cw);`);
          const ok = `${next ? 'nextFrame & ' : ''}${rowOk} & ${colOk}`;
          const index = `childBase + ${next ? 'PER_FRAME + ' : ''}u32(${cy} * cw + ${cx})`;
          lines.push(`  { let ok = ${ok};`, `  ${read(k, index, 'ok')} }`);
        }
      }
      return;
    }
    // The consumer sits at (y - dy, x - dx) of the same level, in this frame or the next.
    const rowOk = once(`cy${offsetName(tap.dy)}`, `  let cy${offsetName(tap.dy)} = u32(iy - ${tap.dy}) < u32(h);`);
    const colOk = once(`cx${offsetName(tap.dx)}`, `  let cx${offsetName(tap.dx)} = u32(ix - ${tap.dx}) < u32(w);`);
    let ok = `${rowOk} & ${colOk}`;
    let index = `u32(iw - ${tap.dy} * w - ${tap.dx})`;
    if (tap.from === 'current') {
      // Checkerboard anchors ((x + y) even) read no 'current' taps: the consumer's parity is ours
      // shifted by dx + dy.
      if (spec.schedule === 'checkerboard') ok += ((tap.dx + tap.dy) & 1) === 1 ? ' & selfAnchor' : ' & !selfAnchor';
    } else {
      ok = `nextFrame & ${ok}`;
      index = `u32(iw + i32(PER_FRAME) - ${tap.dy} * w - ${tap.dx})`;
    }
    lines.push(`  { let ok = ${ok};`, `  ${read(k, index, 'ok')} }`);
  });
  return lines.join('\n');
}

/**
 * WGSL picking, for frame-relative latent index `r`, its level `l` and that level's stride, size,
 * offset and x-reduced row base (lStride, lWidth, lHeight, lOffset, rowBase) and the next finer
 * level's size and offset (cWidth, cHeight, cOffset): select chains on constants.
 */
function levelSource(geom: LatentGeometry, frames: number): string {
  const rows = rowSumLayout(geom, frames);
  const L = geom.levels;
  const lines = L.slice(1).map((level, k) => `  let above${k + 1} = r >= ${level.offset}u;`);
  const pick = (name: string, value: (l: number) => number) => {
    let expr = `${value(0)}u`;
    for (let l = 1; l < L.length; l++) expr = `select(${expr}, ${value(l)}u, above${l})`;
    lines.push(`  let ${name} = ${expr};`);
  };
  pick('l', (l) => l);
  pick('lStride', (l) => L[l].stride);
  pick('lWidth', (l) => L[l].width);
  pick('lHeight', (l) => L[l].height);
  pick('lOffset', (l) => L[l].offset);
  pick('rowBase', (l) => rows.bases[l]);
  pick('cWidth', (l) => L[Math.max(0, l - 1)].width);
  pick('cHeight', (l) => L[Math.max(0, l - 1)].height);
  pick('cOffset', (l) => L[Math.max(0, l - 1)].offset);
  return lines.join('\n');
}

export interface LatentStepBuffers {
  /** d loss / d features summed along x into latent columns (rowSumLayout). */
  dRows: GPUBuffer;
  /** arm_step's rows: the taps' gradients, then d rate / d latent. */
  dctx: GPUBuffer;
  slope: GPUBuffer;
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
  const pipeline = ctx.pipeline(
    'latent_step',
    {
      OWN_VEC4: T >> 2,
      OWN_LANE: XYZW[T & 3],
      CONSUMERS: consumerSource(spec, dctxVec4s),
      LEVEL: levelSource(geom, frames),
    },
    'main',
    {
      WIDTH: geom.width,
      HEIGHT: geom.height,
      FRAMES: frames,
      PER_FRAME: geom.perFrame,
      DCTX_VEC4S: dctxVec4s,
      GRID_X: grid.gridX,
    },
  );
  const b = buffers;
  return ctx.dispatch(pipeline, [b.dRows, b.dctx, b.slope, b.hyper, b.y, b.m, b.v], grid.workgroups);
}
