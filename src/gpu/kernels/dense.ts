import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';

/** A dense (1x1 conv) layer over `rows` pixels: x [rows, inC] . w [inC, outC] + b [outC]. */
export interface DenseShape {
  rows: number;
  inC: number;
  outC: number;
}

/** Output tile per invocation: `rows` rows x `colGroups` vec4 column groups. */
export interface MatmulTile {
  rows: number;
  colGroups: number;
}

const WORKGROUP = 64;
const XYZW = ['x', 'y', 'z', 'w'];

/**
 * vec4f accumulators per invocation. Measured on Dawn+SwiftShader (2 busy cores): 16 rows x 8
 * groups (128) beat 8x8 and 16x4 by 10-15% on 15360x32x32 and 8192x256x256, at ~1.5 s compile.
 */
const TARGET_ACCUMULATORS = 128;

interface MatmulPlan {
  M: number;
  K: number;
  N: number;
  tile: MatmulTile;
  bias: boolean;
  weightsInUniform: boolean;
}

/** Picks the tile: column groups dividing N/4 (no partial column tile), then rows to fill ~64 accumulators. */
export function chooseMatmulTile(M: number, N: number): MatmulTile {
  const groups = Math.ceil(N / 4);
  if (N % 4 !== 0) {
    // One column tile covers every channel so all column offsets are compile-time constants.
    return { colGroups: groups, rows: clampRows(Math.floor(TARGET_ACCUMULATORS / groups), M) };
  }
  let colGroups = 1;
  for (let g = Math.min(groups, 8); g >= 1; g--) {
    if (groups % g === 0) {
      colGroups = g;
      break;
    }
  }
  return { colGroups, rows: clampRows(Math.floor(TARGET_ACCUMULATORS / colGroups), M) };
}

function clampRows(rows: number, M: number): number {
  return Math.max(1, Math.min(16, rows, M));
}

function validateTile(kernel: string, tile: MatmulTile, N: number): void {
  requirePositiveIntegers(kernel, { tileRows: tile.rows, tileColGroups: tile.colGroups });
  const groups = Math.ceil(N / 4);
  if (N % 4 !== 0 ? tile.colGroups !== groups : groups % tile.colGroups !== 0) {
    throw new NervError('BAD_ARGUMENT', `${kernel}: tile of ${tile.colGroups} column groups does not fit ${N} columns`);
  }
}

/** Uniform weights (docs/architecture.md, kernel rule 4) need N % 4 == 0 (vec4 rows) and must fit the uniform binding limit. */
function weightsFitUniform(ctx: GpuContext, K: number, N: number, w: GPUBuffer): boolean {
  const bytes = K * N * 4;
  return N % 4 === 0 && bytes <= ctx.device.limits.maxUniformBufferBindingSize && w.size >= bytes;
}

/** WGSL for one tiled matmul (see shaders/dense_forward.wgsl). */
function matmulDefines(plan: MatmulPlan): Record<string, string | number> {
  const { M, K, N, tile, bias, weightsInUniform } = plan;
  const RT = tile.rows;
  const NG = tile.colGroups;
  const aVec = K % 4 === 0;
  const nVec = N % 4 === 0;
  const K4 = Math.floor(K / 4);
  const N4 = N / 4;
  const lines = (f: (push: (s: string) => void) => void): string => {
    const out: string[] = [];
    f((s) => out.push(`  ${s}`));
    return out.join('\n');
  };
  // Weight row `row` (a WGSL u32 expression), column group g of this tile.
  const weight = (row: string, g: number): string => {
    if (nVec) return `w[(${row}) * ${N4}u + n4 + ${g}u]`;
    const parts = [0, 1, 2, 3].map((j) => (4 * g + j < N ? `w[(${row}) * ${N}u + ${4 * g + j}u]` : '0.0'));
    return `vec4f(${parts.join(', ')})`;
  };
  let binding = 0;
  const bindings = [
    `@group(0) @binding(${binding++}) var<storage, read> a: array<${aVec ? 'vec4f' : 'f32'}>;`,
    weightsInUniform
      ? `@group(0) @binding(${binding++}) var<uniform> w: array<vec4f, ${(K * N) / 4}>;`
      : `@group(0) @binding(${binding++}) var<storage, read> w: array<${nVec ? 'vec4f' : 'f32'}>;`,
  ];
  if (bias) bindings.push(`@group(0) @binding(${binding++}) var<storage, read> bias: array<${nVec ? 'vec4f' : 'f32'}>;`);
  bindings.push(`@group(0) @binding(${binding}) var<storage, read_write> y: array<${nVec ? 'vec4f' : 'f32'}>;`);

  const rows = lines((push) => {
    for (let k = 0; k < RT; k++) push(`let row${k} = min(r0 + ${k}u, ${M - 1}u);`);
  });
  const init = lines((push) => {
    for (let g = 0; g < NG; g++) {
      let value = 'vec4f(0.0)';
      if (bias) {
        value = nVec ? `bias[n4 + ${g}u]` : `vec4f(${[0, 1, 2, 3].map((j) => (4 * g + j < N ? `bias[${4 * g + j}u]` : '0.0')).join(', ')})`;
      }
      push(`let b${g} = ${value};`);
    }
    for (let k = 0; k < RT; k++) for (let g = 0; g < NG; g++) push(`var c${k}_${g} = b${g};`);
  });
  const step = lines((push) => {
    for (let k = 0; k < RT; k++) {
      push(
        aVec ? `let a${k} = a[row${k} * ${K4}u + k4];` : `let a${k} = vec4f(${[0, 1, 2, 3].map((j) => `a[row${k} * ${K}u + k4 * 4u + ${j}u]`).join(', ')});`,
      );
    }
    for (let j = 0; j < 4; j++) {
      for (let g = 0; g < NG; g++) push(`let w${j}_${g} = ${weight(`k4 * 4u + ${j}u`, g)};`);
      for (let k = 0; k < RT; k++) for (let g = 0; g < NG; g++) push(`c${k}_${g} += a${k}.${XYZW[j]} * w${j}_${g};`);
    }
  });
  // K % 4 leftover inputs (only when x rows are not vec4-aligned, so `a` is scalar).
  const remainder = lines((push) => {
    for (let kk = K4 * 4; kk < K; kk++) {
      for (let g = 0; g < NG; g++) push(`let w${kk}_${g} = ${weight(`${kk}u`, g)};`);
      for (let k = 0; k < RT; k++) {
        push(`let a${k}_${kk} = a[row${k} * ${K}u + ${kk}u];`);
        for (let g = 0; g < NG; g++) push(`c${k}_${g} += a${k}_${kk} * w${kk}_${g};`);
      }
    }
  });
  const store = lines((push) => {
    for (let k = 0; k < RT; k++) {
      const body: string[] = [];
      for (let g = 0; g < NG; g++) {
        if (nVec) body.push(`y[row${k} * ${N4}u + n4 + ${g}u] = c${k}_${g};`);
        else for (let j = 0; j < 4 && 4 * g + j < N; j++) body.push(`y[row${k} * ${N}u + ${4 * g + j}u] = c${k}_${g}.${XYZW[j]};`);
      }
      push(k === 0 ? body.join(' ') : `if (r0 + ${k}u < M) { ${body.join(' ')} }`);
    }
  });
  return {
    BINDINGS: bindings.join('\n'),
    M,
    ROW_TILES: divUp(M, RT),
    ROW_TILE: RT,
    COL_GROUPS: NG,
    K4,
    WORKGROUP,
    ROWS: rows,
    INIT: init,
    STEP: step,
    REMAINDER: remainder,
    STORE: store,
  };
}

function matmulProgram(ctx: GpuContext, plan: MatmulPlan, buffers: { a: GPUBuffer; w: GPUBuffer; bias?: GPUBuffer; y: GPUBuffer }): GpuProgram {
  const pipeline = ctx.pipeline('dense_forward', matmulDefines(plan));
  const bound = [buffers.a, buffers.w, ...(plan.bias && buffers.bias ? [buffers.bias] : []), buffers.y];
  const colTiles = plan.N % 4 === 0 ? plan.N / 4 / plan.tile.colGroups : 1;
  return ctx.dispatch(pipeline, bound, [divUp(divUp(plan.M, plan.tile.rows), WORKGROUP), colTiles]);
}

function validateDense(kernel: string, shape: DenseShape): void {
  if (!shape) throw new NervError('BAD_ARGUMENT', `${kernel}: missing shape`);
  requirePositiveIntegers(kernel, { rows: shape.rows, inC: shape.inC, outC: shape.outC });
}

/** Options for benchmarks and tests: force a tile or keep weights out of uniform memory. */
export interface MatmulOptions {
  tile?: MatmulTile;
  uniformWeights?: boolean;
}

/** y = x . w + b. */
export function denseForward(
  ctx: GpuContext,
  shape: DenseShape,
  buffers: { x: GPUBuffer; w: GPUBuffer; b: GPUBuffer; y: GPUBuffer },
  options: MatmulOptions = {},
): GpuProgram {
  const kernel = 'denseForward';
  validateDense(kernel, shape);
  const { rows, inC, outC } = shape;
  requireBufferFloats(kernel, 'x', buffers.x, rows * inC);
  requireBufferFloats(kernel, 'w', buffers.w, inC * outC);
  requireBufferFloats(kernel, 'b', buffers.b, outC);
  requireBufferFloats(kernel, 'y', buffers.y, rows * outC);
  const tile = options.tile ?? chooseMatmulTile(rows, outC);
  validateTile(kernel, tile, outC);
  const weightsInUniform = (options.uniformWeights ?? true) && weightsFitUniform(ctx, inC, outC, buffers.w);
  const plan: MatmulPlan = { M: rows, K: inC, N: outC, tile, bias: true, weightsInUniform };
  return matmulProgram(ctx, plan, { a: buffers.x, w: buffers.w, bias: buffers.b, y: buffers.y });
}

/** A plain matmul C[M, N] = A[M, K] . B[K, N] with the forward kernel and no bias. */
export function matmul(
  ctx: GpuContext,
  shape: { M: number; K: number; N: number },
  buffers: { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer },
  options: MatmulOptions = {},
): GpuProgram {
  const kernel = 'matmul';
  requirePositiveIntegers(kernel, shape);
  const { M, K, N } = shape;
  requireBufferFloats(kernel, 'a', buffers.a, M * K);
  requireBufferFloats(kernel, 'b', buffers.b, K * N);
  requireBufferFloats(kernel, 'c', buffers.c, M * N);
  const tile = options.tile ?? chooseMatmulTile(M, N);
  validateTile(kernel, tile, N);
  const weightsInUniform = (options.uniformWeights ?? true) && weightsFitUniform(ctx, K, N, buffers.b);
  return matmulProgram(ctx, { M, K, N, tile, bias: false, weightsInUniform }, { a: buffers.a, w: buffers.b, y: buffers.c });
}

/** dx = dy . w^T: w is transposed into a private buffer each run (inC*outC floats, one small dispatch). */
export function denseBackwardInput(ctx: GpuContext, shape: DenseShape, buffers: { dy: GPUBuffer; w: GPUBuffer; dx: GPUBuffer }): GpuProgram {
  const kernel = 'denseBackwardInput';
  validateDense(kernel, shape);
  const { rows, inC, outC } = shape;
  requireBufferFloats(kernel, 'dy', buffers.dy, rows * outC);
  requireBufferFloats(kernel, 'w', buffers.w, inC * outC);
  requireBufferFloats(kernel, 'dx', buffers.dx, rows * inC);
  const transposed = ctx.buffer(inC * outC, 'dense w^T');
  const transpose = ctx.dispatch(ctx.pipeline('dense_transpose', { K: inC, N: outC }), [buffers.w, transposed], [divUp(inC * outC, 64)]);
  const plan: MatmulPlan = {
    M: rows,
    K: outC,
    N: inC,
    tile: chooseMatmulTile(rows, inC),
    bias: false,
    weightsInUniform: weightsFitUniform(ctx, outC, inC, transposed),
  };
  const product = matmulProgram(ctx, plan, { a: buffers.dy, w: transposed, y: buffers.dx });
  return {
    record(pass) {
      transpose.record(pass);
      product.record(pass);
    },
  };
}

/** Stage-1 tile of the parameter gradient: `inGroups` x 4 inputs by `colGroups` x 4 outputs. */
interface ParamsPlan {
  M: number;
  K: number;
  N: number;
  inGroups: number;
  colGroups: number;
  chunk: number;
  chunks: number;
}

function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** Stage-1 invocations aimed at: enough to keep both cores busy, few enough that stage 2 stays cheap. */
const TARGET_PARAM_INVOCATIONS = 512;

function paramsPlan(shape: DenseShape): ParamsPlan {
  const { rows: M, inC: K, outC: N } = shape;
  const kGroups = Math.ceil(K / 4);
  const nGroups = Math.ceil(N / 4);
  // A non-multiple-of-4 channel count gets a single tile so its offsets are constants.
  const inGroups = K % 4 === 0 ? largestDivisorAtMost(kGroups, 4) : kGroups;
  const colGroups = N % 4 === 0 ? largestDivisorAtMost(nGroups, 4) : nGroups;
  const tiles = (kGroups / inGroups) * (nGroups / colGroups);
  const wanted = Math.max(1, Math.ceil(TARGET_PARAM_INVOCATIONS / tiles));
  const chunk = Math.max(16, Math.ceil(M / wanted));
  return { M, K, N, inGroups, colGroups, chunk, chunks: divUp(M, chunk) };
}

function paramsDefines(plan: ParamsPlan): Record<string, string | number> {
  const { M, K, N, inGroups: IG, colGroups: NG, chunk, chunks } = plan;
  const kVec = K % 4 === 0;
  const nVec = N % 4 === 0;
  const T = nVec ? 'vec4f' : 'f32';
  const width = (K + 1) * N;
  const bindings = [
    `@group(0) @binding(0) var<storage, read> x: array<${kVec ? 'vec4f' : 'f32'}>;`,
    `@group(0) @binding(1) var<storage, read> dy: array<${T}>;`,
    `@group(0) @binding(2) var<storage, read_write> partial: array<${T}>;`,
  ];
  const push = (out: string[], s: string) => out.push(`    ${s}`);
  const init: string[] = [];
  for (let i = 0; i < IG * 4; i++) for (let g = 0; g < NG; g++) push(init, `var c${i}_${g} = vec4f(0.0);`);
  for (let g = 0; g < NG; g++) push(init, `var s${g} = vec4f(0.0);`);
  const step: string[] = [];
  for (let g = 0; g < NG; g++) {
    push(
      step,
      nVec
        ? `let d${g} = dy[r * ${N / 4}u + n4 + ${g}u];`
        : `let d${g} = vec4f(${[0, 1, 2, 3].map((j) => (4 * g + j < N ? `dy[r * ${N}u + ${4 * g + j}u]` : '0.0')).join(', ')});`,
    );
    push(step, `s${g} += d${g};`);
  }
  for (let q = 0; q < IG; q++) {
    if (kVec) push(step, `let x${q} = x[r * ${K / 4}u + i4 + ${q}u];`);
    else {
      const parts = [0, 1, 2, 3].map((j) => (4 * q + j < K ? `x[r * ${K}u + ${4 * q + j}u]` : '0.0'));
      push(step, `let x${q} = vec4f(${parts.join(', ')});`);
    }
    for (let j = 0; j < 4; j++) {
      if (4 * q + j >= K) continue;
      for (let g = 0; g < NG; g++) push(step, `c${4 * q + j}_${g} += x${q}.${XYZW[j]} * d${g};`);
    }
  }
  // partial[chunk, e], e = i * N + o for dw and K * N + o for db.
  const store: string[] = [];
  const storeRow = (out: string[], rowExpr: string, acc: (g: number) => string) => {
    for (let g = 0; g < NG; g++) {
      if (nVec) out.push(`partial[(chunk * ${width}u + (${rowExpr}) * ${N}u) / 4u + n4 + ${g}u] = ${acc(g)};`);
      else for (let j = 0; j < 4 && 4 * g + j < N; j++) out.push(`partial[chunk * ${width}u + (${rowExpr}) * ${N}u + ${4 * g + j}u] = ${acc(g)}.${XYZW[j]};`);
    }
  };
  for (let i = 0; i < IG * 4; i++) {
    if (i >= K) continue;
    const rows: string[] = [];
    storeRow(rows, kVec ? `i4 * 4u + ${i}u` : `${i}u`, (g) => `c${i}_${g}`);
    rows.forEach((s) => push(store, s.replace(/^/, '')));
  }
  const biasRows: string[] = [];
  storeRow(biasRows, `${K}u`, (g) => `s${g}`);
  push(store, `if (wid.y == 0u) { ${biasRows.join(' ')} }`);
  return {
    BINDINGS: bindings.join('\n'),
    M,
    CHUNK: chunk,
    CHUNKS: chunks,
    WORKGROUP: 32,
    IN_GROUPS: IG,
    COL_GROUPS: NG,
    INIT: init.join('\n').replace(/^ {2}/gm, ''),
    STEP: step.join('\n'),
    STORE: store.join('\n').replace(/^ {2}/gm, ''),
  };
}

/** dw = x^T . dy and db = sum over rows of dy, reduced in two deterministic stages (no atomics). */
export function denseBackwardParams(ctx: GpuContext, shape: DenseShape, buffers: { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer; db: GPUBuffer }): GpuProgram {
  const kernel = 'denseBackwardParams';
  validateDense(kernel, shape);
  const { rows, inC, outC } = shape;
  requireBufferFloats(kernel, 'x', buffers.x, rows * inC);
  requireBufferFloats(kernel, 'dy', buffers.dy, rows * outC);
  requireBufferFloats(kernel, 'dw', buffers.dw, inC * outC);
  requireBufferFloats(kernel, 'db', buffers.db, outC);
  const plan = paramsPlan(shape);
  const width = (inC + 1) * outC;
  const partial = ctx.buffer(plan.chunks * width, 'dense partial gradients');
  const stage1 = ctx.dispatch(
    ctx.pipeline('dense_backward_params', paramsDefines(plan)),
    [buffers.x, buffers.dy, partial],
    [divUp(plan.chunks, 32), Math.ceil(inC / 4) / plan.inGroups, Math.ceil(outC / 4) / plan.colGroups],
  );
  const lanes = outC % 4 === 0 ? 4 : 1;
  const reduceDefines = {
    T: lanes === 4 ? 'vec4f' : 'f32',
    WIDTH: width / lanes,
    DW_WIDTH: (inC * outC) / lanes,
    CHUNKS: plan.chunks,
  };
  const stage2 = ctx.dispatch(ctx.pipeline('dense_reduce', reduceDefines), [partial, buffers.dw, buffers.db], [divUp(width / lanes, 64)]);
  return {
    record(pass) {
      stage1.record(pass);
      stage2.record(pass);
    },
  };
}
