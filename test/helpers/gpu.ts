import { requestGpuDevice } from '../../src/gpu/device.ts';
import { GpuContext } from '../../src/gpu/context.ts';

let shared: Promise<GpuContext> | undefined;

/** One device per test process: creating a Dawn device costs about a second. */
export function testContext(): Promise<GpuContext> {
  shared ??= requestGpuDevice().then((device) => new GpuContext(device));
  return shared;
}

/** Deterministic pseudo-random floats in [-scale, scale]. */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0 || 1;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = ((state / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Largest |a-b| / (1 + |b|), the tolerance measure used by kernel tests. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
