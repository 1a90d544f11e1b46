import type { GpuContext, GpuProgram } from '../context.ts';
import { matmul, type MatmulOptions } from './dense.ts';
import { requirePositiveIntegers } from './shape-checks.ts';

export interface MatmulRoofline {
  M: number;
  K: number;
  N: number;
  /** Median milliseconds of one matmul (programs queued back to back, one submit per batch). */
  ms: number;
  gflops: number;
}

/**
 * GFLOP/s of the best plain matmul C[M,N] = A[M,K] . B[K,N] on this adapter: the yardstick that
 * benchmarks divide other kernels' GFLOP/s by (docs/architecture.md). Runs `repeats` dispatches per
 * submit so per-submit overhead is amortised, after one warm-up batch (which also compiles).
 */
export async function matmulRoofline(
  ctx: GpuContext,
  M = 8192,
  K = 256,
  N = 256,
  options: MatmulOptions & { repeats?: number; batches?: number } = {},
): Promise<MatmulRoofline> {
  const repeats = options.repeats ?? 4;
  const batches = options.batches ?? 3;
  requirePositiveIntegers('matmulRoofline', { M, K, N, repeats, batches });
  const a = ctx.upload(pseudoRandom(M * K, 1));
  const b = ctx.upload(pseudoRandom(K * N, 2));
  const c = ctx.buffer(M * N);
  const program: GpuProgram = matmul(ctx, { M, K, N }, { a, b, c }, options);
  const ms = await medianGpuMs(ctx, [program], repeats, batches);
  a.destroy();
  b.destroy();
  c.destroy();
  return { M, K, N, ms, gflops: (2 * M * K * N) / (ms * 1e6) };
}

/**
 * Median milliseconds of one run of `programs`: each batch submits them `repeats` times (diluting the
 * per-submit cost) and waits for the GPU; one untimed warm-up batch runs first.
 */
export async function medianGpuMs(ctx: GpuContext, programs: GpuProgram[], repeats: number, batches: number): Promise<number> {
  const batch = Array.from({ length: repeats }, () => programs).flat();
  ctx.run(batch);
  await ctx.finish();
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const start = performance.now();
    ctx.run(batch);
    await ctx.finish();
    times.push((performance.now() - start) / repeats);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

function pseudoRandom(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 4294967296 - 0.5;
  }
  return out;
}
