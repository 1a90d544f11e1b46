// 3x3 convolution (stride 1, zero "same" padding, NHWC; weights [ky][kx][inC][outC]) on WebGPU.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import type { Conv3x3Shape } from '../../cpu/conv3x3.ts';

export type { Conv3x3Shape } from '../../cpu/conv3x3.ts';

/** Register-tile sizes; the defaults were the fastest measured on Dawn + SwiftShader. */
export interface Conv3x3Tuning {
  /** Output pixels along x per invocation (forward and backward-input). */
  tileX?: number;
  /** Output channel vec4s per invocation (rounded down to a divisor of the vec4 count). */
  tileOc4?: number;
  /** Input channel vec4s per backward-params job. */
  tileIc4?: number;
  /** Force the weights into storage instead of uniform memory (automatic: uniform when <= 64 KiB). */
  storageWeights?: boolean;
}

const WORKGROUP = 64;
/** Uniform arrays are faster on lavapipe and harmless on SwiftShader; WebGPU guarantees 64 KiB. */
const UNIFORM_LIMIT = 65536;

const vec4s = (channels: number) => Math.ceil(channels / 4);
/** Largest divisor of `count` that is <= `limit`, so channel tiles never straddle the padded end. */
const tileDivisor = (count: number, limit: number) => {
  for (let d = Math.min(limit, count); d > 1; d--) if (count % d === 0) return d;
  return 1;
};

function checkShape(kernel: string, shape: Conv3x3Shape): void {
  const { n, h, w, inC, outC } = shape;
  requirePositiveIntegers(kernel, { n, h, w, inC, outC });
}

function sequence(programs: GpuProgram[]): GpuProgram {
  return { record: (pass) => programs.forEach((program) => program.record(pass)) };
}

/** A program writing `src` [pixels, channels] into a fresh buffer with channels padded to a multiple of 4. */
function padChannels(ctx: GpuContext, src: GPUBuffer, pixels: number, channels: number): { buffer: GPUBuffer; program: GpuProgram } {
  const padded = vec4s(channels) * 4;
  const buffer = ctx.buffer(pixels * padded, 'conv3x3 padded channels');
  const pipeline = ctx.pipeline('conv3x3_pad_channels', { PIXELS: pixels, C: channels, C_P: padded });
  return { buffer, program: ctx.dispatch(pipeline, [src, buffer], [divUp(pixels, WORKGROUP)]) };
}

/** Packs weights into [3][3][rows padded][cols padded]; `transpose` builds the backward-input kernel. */
function packWeights(ctx: GpuContext, src: GPUBuffer, inC: number, outC: number, transpose: boolean) {
  const rowsP = vec4s(transpose ? outC : inC) * 4;
  const colsP = vec4s(transpose ? inC : outC) * 4;
  const count = 9 * rowsP * colsP;
  const buffer = ctx.buffer(count, 'conv3x3 packed weights');
  const pipeline = ctx.pipeline('conv3x3_pack_weights', { IN: inC, OUT: outC, ROWS_P: rowsP, COLS_P: colsP, TRANSPOSE: transpose });
  return { buffer, program: ctx.dispatch(pipeline, [src, buffer], [divUp(count, WORKGROUP)]) };
}

function forwardSource(tileX: number, tileOc4: number) {
  const lines = (f: (push: (s: string) => void) => void) => {
    const out: string[] = [];
    f((s) => out.push(s));
    return out.join('\n');
  };
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  const DECLARE = lines((push) => {
    for (const o of range(tileOc4)) push(`  let b${o} = loadBias(oc0 + ${o}u);`);
    for (const p of range(tileX)) for (const o of range(tileOc4)) push(`  var a${p}_${o} = b${o};`);
  });
  const LOAD = lines((push) => {
    for (const p of range(tileX + 2)) push(`      let v${p} = loadX(rowBase, x0 + ${p - 1}, c4);`);
  });
  const ACCUMULATE = lines((push) => {
    for (const kx of range(3)) {
      for (const o of range(tileOc4)) {
        push(`      {`);
        push(`        let wi = wBase + ${kx}u * TAP_STRIDE + ${o}u;`);
        push(`        let w0 = wt[wi]; let w1 = wt[wi + OC4]; let w2 = wt[wi + 2u * OC4]; let w3 = wt[wi + 3u * OC4];`);
        for (const p of range(tileX)) {
          const v = `v${p + kx}`;
          push(`        a${p}_${o} += ${v}.x * w0 + ${v}.y * w1 + ${v}.z * w2 + ${v}.w * w3;`);
        }
        push(`      }`);
      }
    }
  });
  const STORE = lines((push) => {
    for (const p of range(tileX)) {
      const stores = range(tileOc4)
        .map((o) => `store(pixel0 + ${p}u, oc0 + ${o}u, a${p}_${o});`)
        .join(' ');
      push(`  if (x0 + ${p} < i32(W)) { ${stores} }`);
    }
  });
  return { DECLARE, LOAD, ACCUMULATE, STORE };
}

/**
 * The convolution proper on channel-padded input `x4` [n,h,w,ic4*4] and packed weights
 * [3][3][ic4*4][oc4*4]; writes `outC` channels of y.
 */
function convProgram(
  ctx: GpuContext,
  dims: { n: number; h: number; w: number; ic4: number; outC: number },
  buffers: { x4: GPUBuffer; weights: GPUBuffer; bias: GPUBuffer; y: GPUBuffer },
  tuning: Conv3x3Tuning,
): GpuProgram {
  const { n, h, w, ic4, outC } = dims;
  const oc4 = vec4s(outC);
  const tileX = Math.max(1, Math.min(tuning.tileX ?? 16, w));
  const tileOc4 = tileDivisor(oc4, tuning.tileOc4 ?? 4);
  const weightVec4s = 9 * ic4 * 4 * oc4;
  const uniformLimit = Math.min(UNIFORM_LIMIT, ctx.device.limits.maxUniformBufferBindingSize);
  const weightSpace = buffers.weights.size <= uniformLimit && !tuning.storageWeights ? 'uniform' : 'storage, read';
  const pipeline = ctx.pipeline('conv3x3_forward', {
    N: n,
    H: h,
    W: w,
    IC4: ic4,
    OC4: oc4,
    OUT_C: outC,
    TILE_X: tileX,
    TILE_OC4: tileOc4,
    WEIGHT_SPACE: weightSpace,
    WEIGHT_VEC4S: weightVec4s,
    ...forwardSource(tileX, tileOc4),
  });
  const pixelTiles = n * h * divUp(w, tileX);
  return ctx.dispatch(pipeline, [buffers.x4, buffers.weights, buffers.bias, buffers.y], [divUp(pixelTiles, WORKGROUP), oc4 / tileOc4]);
}

/** y = conv3x3(x, w) + b. Buffers: x [n,h,w,inC], w [3,3,inC,outC], b [outC], y [n,h,w,outC]. */
export function conv3x3Forward(
  ctx: GpuContext,
  shape: Conv3x3Shape,
  buffers: { x: GPUBuffer; w: GPUBuffer; b: GPUBuffer; y: GPUBuffer },
  tuning: Conv3x3Tuning = {},
): GpuProgram {
  const kernel = 'conv3x3Forward';
  checkShape(kernel, shape);
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  requireBufferFloats(kernel, 'x', buffers.x, pixels * inC);
  requireBufferFloats(kernel, 'w', buffers.w, 9 * inC * outC);
  requireBufferFloats(kernel, 'b', buffers.b, outC);
  requireBufferFloats(kernel, 'y', buffers.y, pixels * outC);
  const programs: GpuProgram[] = [];
  let x4 = buffers.x;
  if (inC % 4 !== 0) {
    const padded = padChannels(ctx, buffers.x, pixels, inC);
    programs.push(padded.program);
    x4 = padded.buffer;
  }
  let weights = buffers.w;
  // The caller's weights are used in place when already vec4-aligned.
  if (inC % 4 !== 0 || outC % 4 !== 0) {
    const packed = packWeights(ctx, buffers.w, inC, outC, false);
    programs.push(packed.program);
    weights = packed.buffer;
  }
  programs.push(convProgram(ctx, { n, h, w, ic4: vec4s(inC), outC }, { x4, weights, bias: buffers.b, y: buffers.y }, tuning));
  return sequence(programs);
}

/** dx (overwritten) = gradient of conv3x3 w.r.t. its input: dy [n,h,w,outC], w [3,3,inC,outC], dx [n,h,w,inC]. */
export function conv3x3BackwardInput(
  ctx: GpuContext,
  shape: Conv3x3Shape,
  buffers: { dy: GPUBuffer; w: GPUBuffer; dx: GPUBuffer },
  tuning: Conv3x3Tuning = {},
): GpuProgram {
  const kernel = 'conv3x3BackwardInput';
  checkShape(kernel, shape);
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  requireBufferFloats(kernel, 'dy', buffers.dy, pixels * outC);
  requireBufferFloats(kernel, 'w', buffers.w, 9 * inC * outC);
  requireBufferFloats(kernel, 'dx', buffers.dx, pixels * inC);
  const programs: GpuProgram[] = [];
  let dy4 = buffers.dy;
  if (outC % 4 !== 0) {
    const padded = padChannels(ctx, buffers.dy, pixels, outC);
    programs.push(padded.program);
    dy4 = padded.buffer;
  }
  // dx = conv(dy, w') with w'[ky][kx][o][i] = w[2-ky][2-kx][i][o]: the forward kernel does the rest.
  const packed = packWeights(ctx, buffers.w, inC, outC, true);
  programs.push(packed.program);
  const zeroBias = ctx.buffer(inC, 'conv3x3 zero bias');
  programs.push(convProgram(ctx, { n, h, w, ic4: vec4s(outC), outC: inC }, { x4: dy4, weights: packed.buffer, bias: zeroBias, y: buffers.dx }, tuning));
  return sequence(programs);
}

/**
 * dw [3,3,inC,outC] and db [outC] (overwritten), summed over all pixels of the batch in a fixed
 * order: chunks of image rows write partial sums to a private buffer, a second dispatch adds them.
 */
export function conv3x3BackwardParams(
  ctx: GpuContext,
  shape: Conv3x3Shape,
  buffers: { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer; db: GPUBuffer },
  tuning: Conv3x3Tuning = {},
): GpuProgram {
  const kernel = 'conv3x3BackwardParams';
  checkShape(kernel, shape);
  const { n, h, w, inC, outC } = shape;
  const pixels = n * h * w;
  requireBufferFloats(kernel, 'x', buffers.x, pixels * inC);
  requireBufferFloats(kernel, 'dy', buffers.dy, pixels * outC);
  requireBufferFloats(kernel, 'dw', buffers.dw, 9 * inC * outC);
  requireBufferFloats(kernel, 'db', buffers.db, outC);
  const programs: GpuProgram[] = [];
  let x4 = buffers.x;
  if (inC % 4 !== 0) {
    const padded = padChannels(ctx, buffers.x, pixels, inC);
    programs.push(padded.program);
    x4 = padded.buffer;
  }
  let dy4 = buffers.dy;
  if (outC % 4 !== 0) {
    const padded = padChannels(ctx, buffers.dy, pixels, outC);
    programs.push(padded.program);
    dy4 = padded.buffer;
  }
  const ic4 = vec4s(inC);
  const oc4 = vec4s(outC);
  const tileIc4 = tileDivisor(ic4, tuning.tileIc4 ?? 2);
  const tileOc4 = tileDivisor(oc4, tuning.tileOc4 ?? 4);
  const tiles = 9 * (ic4 / tileIc4) * (oc4 / tileOc4);
  // Enough jobs to keep both cores busy; the chunking depends only on the shape (determinism).
  const rows = n * h;
  const chunkRows = divUp(rows, Math.min(rows, Math.max(1, divUp(4096, tiles))));
  const chunks = divUp(rows, chunkRows);
  const partial = ctx.buffer(chunks * (9 * ic4 * 4 * oc4 * 4 + oc4 * 4), 'conv3x3 partial parameter gradients');
  const partialPipeline = ctx.pipeline('conv3x3_backward_params', {
    N: n,
    H: h,
    W: w,
    IC4: ic4,
    OC4: oc4,
    TILE_IC4: tileIc4,
    TILE_OC4: tileOc4,
    CHUNKS: chunks,
    CHUNK_ROWS: chunkRows,
    ...paramsSource(tileIc4, tileOc4),
  });
  const jobs = chunks * tiles + chunks * (oc4 / tileOc4);
  programs.push(ctx.dispatch(partialPipeline, [x4, dy4, partial], [divUp(jobs, WORKGROUP)]));
  const reducePipeline = ctx.pipeline('conv3x3_reduce_params', { IN: inC, OUT: outC, IN_P: ic4 * 4, OUT_P: oc4 * 4, CHUNKS: chunks });
  programs.push(ctx.dispatch(reducePipeline, [partial, buffers.dw, buffers.db], [divUp(9 * inC * outC + outC, WORKGROUP)]));
  return sequence(programs);
}

function paramsSource(tileIc4: number, tileOc4: number) {
  const range = (k: number) => Array.from({ length: k }, (_, i) => i);
  const comps = ['x', 'y', 'z', 'w'];
  const declare: string[] = [];
  const accumulate: string[] = [];
  const store: string[] = [];
  for (const a of range(tileIc4)) accumulate.push(`      let x${a} = x[xi + ${a}u];`);
  for (const o of range(tileOc4)) accumulate.push(`      let d${o} = dy[di + ${o}u];`);
  for (const a of range(tileIc4)) {
    for (const c of range(4)) {
      for (const o of range(tileOc4)) {
        const acc = `g${a}_${c}_${o}`;
        declare.push(`  var ${acc} = vec4f(0.0);`);
        accumulate.push(`      ${acc} += x${a}.${comps[c]} * d${o};`);
        store.push(`  partial[(base + (i0 + ${a}u) * 4u + ${c}u) * OC4 + o0 + ${o}u] = ${acc};`);
      }
    }
  }
  return { DECLARE: declare.join('\n'), ACCUMULATE: accumulate.join('\n'), STORE: store.join('\n') };
}
