import test from 'ava';
import { ArmFixedPoint, latentCoder, latentTable, tableOf, type QuantizedArmTensor } from '../src/entropy/latents.ts';
import { LAPLACE_TABLE_LAYOUT as L } from '../src/entropy/laplace_layout.ts';
import { armForwardCpu } from '../src/nn/network_cpu.ts';
import { planModel } from '../src/nn/layers.ts';
import { describeModel, latentsPerFrame, mulberry32, ARM_LOG_SCALE_SHIFT, type ModelDescription } from '../src/nn/model.ts';
import { NervFormatError } from '../src/errors.ts';

function model(schedule: 'checkerboard' | 'raster' = 'checkerboard'): ModelDescription {
  const base = describeModel(13, 9, 3);
  if (schedule === 'checkerboard') return base;
  return describeModel(13, 9, 3, {
    overrides: {
      arm: {
        hidden: [8, 8],
        schedule: 'raster',
        taps: [
          { from: 'current', dy: -1, dx: -1 },
          { from: 'current', dy: -1, dx: 0 },
          { from: 'current', dy: -1, dx: 1 },
          { from: 'current', dy: 0, dx: -1 },
          { from: 'previous', dy: 0, dx: 0 },
          { from: 'parent', dy: 0, dx: 0 },
          { from: 'previous-parent', dy: 1, dx: -1 },
          { from: 'previous-parent', dy: 0, dx: 0 },
        ],
      },
    },
  });
}

/** Random quantized context model: weights at 2^-6 within +-1, biases at 2^-8. */
function armTensors(m: ModelDescription, seed: number): (QuantizedArmTensor | undefined)[] {
  const random = mulberry32(seed);
  return planModel(m).tensors.map((t) =>
    t.role === 'arm'
      ? {
          symbols: Int32Array.from({ length: t.size }, () => Math.round((random() * 2 - 1) * (t.kind === 'bias' ? 128 : 40))),
          shift: t.kind === 'bias' ? 8 : 6,
        }
      : undefined,
  );
}

/** Latent frames: mostly small values, a few large ones (both tails of the alphabet get exercised). */
function latentFrames(m: ModelDescription, frames: number, seed: number): Int32Array[] {
  const random = mulberry32(seed);
  const n = latentsPerFrame(m);
  return Array.from({ length: frames }, () =>
    Int32Array.from({ length: n }, () => {
      const u = random();
      if (u < 0.02) return Math.round((random() * 2 - 1) * 2047);
      return Math.round(Math.log(random()) * (random() < 0.5 ? -2 : 2));
    }),
  );
}

for (const schedule of ['checkerboard', 'raster'] as const) {
  test(`latents round-trip through the context-model coder (${schedule})`, (t) => {
    const m = model(schedule);
    const coder = latentCoder(m, armTensors(m, 1));
    const frames = latentFrames(m, 3, 2);
    for (const previous of [undefined, latentFrames(m, 1, 3)[0]]) {
      const { bytes, bits } = coder.encode(frames, previous);
      const decoded = coder.decode(bytes, frames.length, previous);
      t.deepEqual(
        decoded.map((f) => Array.from(f)),
        frames.map((f) => Array.from(f)),
      );
      t.true(Math.abs(bytes.length * 8 - bits) / bits < 0.02, `estimated ${bits.toFixed(0)} bits, wrote ${bytes.length * 8}`);
      t.is(coder.bits(frames, previous), bits);
    }
  });
}

test('a corrupt or truncated latent stream fails with a typed error, never a crash', (t) => {
  const m = model();
  const coder = latentCoder(m, armTensors(m, 4));
  const frames = latentFrames(m, 2, 5);
  const { bytes } = coder.encode(frames, undefined);
  let detected = 0;
  for (let i = 0; i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 40))) {
    const broken = bytes.slice();
    broken[i] ^= 0x5a;
    try {
      const decoded = coder.decode(broken, frames.length, undefined);
      // rANS cannot notice every flip; an undetected one must still decode to in-range latents.
      t.true(decoded.every((f) => f.every((v) => Math.abs(v) <= 2047)));
    } catch (error) {
      t.true(error instanceof NervFormatError, String(error));
      detected++;
    }
  }
  t.true(detected > 0, 'some corruption is detected');
  for (const cut of [0, 3, Math.floor(bytes.length / 2), bytes.length - 1]) {
    t.throws(() => coder.decode(bytes.subarray(0, cut), frames.length, undefined), { instanceOf: NervFormatError });
  }
});

test('every latent probability table sums to 2^15 and can code every magnitude', (t) => {
  for (let s = 0; s < L.scales; s++) {
    for (let o = 0; o < L.offsets; o++) {
      const table = latentTable(s, o);
      const c = table.cumulative;
      t.is(c[c.length - 1], 32768);
      for (let i = 0; i + 1 < c.length; i++) if (!(c[i + 1] > c[i])) t.fail(`table (${s}, ${o}) token ${i} has no probability`);
      t.true(table.positive > 0 && table.positive < 32768);
    }
  }
  // Small scales put almost all the mass on the centre; large scales spread it.
  t.true(latentTable(0, 4).cumulative[1] > 32000);
  t.true(latentTable(L.scales - 1, 4).cumulative[1] < 2000);
  // An offset above the centre favours positive residuals, below it negative ones.
  t.true(latentTable(40, 7).positive > 16384 && latentTable(40, 0).positive < 16384);
});

test('mean and log-scale map onto the table buckets as specified', (t) => {
  const at = (mu: number, logScale: number) => {
    const out = new Int32Array(3);
    tableOf(mu, logScale, out);
    return { center: out[0], s: Math.floor(out[1] / L.offsets), o: out[1] % L.offsets };
  };
  t.deepEqual(at(0, 0), { center: 0, s: 40, o: 4 });
  t.deepEqual(at(256 * 3 + 100, -5 * 256), { center: 3, s: 0, o: 7 });
  t.deepEqual(at(-256 * 2 - 129, 5 * 256 + 1000), { center: -3, s: L.scales - 1, o: 7 });
  t.is(at(2047 * 256 * 4, 0).center, 2047, 'means clamp to the latent range');
});

test('the fixed-point context model follows the float model with the same weights', (t) => {
  const m = model();
  const plan = planModel(m);
  const quantized = armTensors(m, 7);
  const fixed = new ArmFixedPoint(plan, quantized);
  const params = plan.tensors.map((spec, i) => {
    const q = quantized[i];
    return q ? Float32Array.from(q.symbols, (s) => s * 2 ** -q.shift) : new Float32Array(spec.size);
  });
  const random = mulberry32(8);
  const rows = 200;
  const context = new Float32Array(rows * plan.armInputs);
  for (let i = 0; i < context.length; i++)
    context[i] = i % plan.armInputs >= plan.armInputs - 2 ? (random() < 0.5 ? 1 : 0) : Math.round((random() * 2 - 1) * 20);
  const reference = armForwardCpu(m, params, context, plan);
  const out = new Int32Array(2);
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    fixed.forward(Int32Array.from(context.subarray(r * plan.armInputs, (r + 1) * plan.armInputs)), out);
    worst = Math.max(worst, Math.abs(out[0] / 256 - reference[2 * r]), Math.abs(out[1] / 256 - ARM_LOG_SCALE_SHIFT - reference[2 * r + 1]));
  }
  // Only the rounding of later layers' accumulators to 8 fractional bits separates them.
  t.true(worst < 0.05, `largest difference ${worst}`);
});

test('the fixed-point context model gives bit-identical outputs on WebGPU and in JavaScript', async (t) => {
  const { testContext } = await import('./helpers/gpu.ts');
  const { armFixedBuffers, armFixedPoint } = await import('../src/gpu/kernels/arm_fixed.ts');
  const ctx = await testContext();
  const m = model();
  const plan = planModel(m);
  // Large weights and contexts too: sums that overflow int32 must wrap the same way on both sides.
  for (const [seed, scale, weightScale] of [
    [11, 20, 40],
    [12, 2047, 2000],
  ]) {
    const random = mulberry32(seed);
    const tensors = plan.tensors.map((spec) =>
      spec.role === 'arm'
        ? { symbols: Int32Array.from({ length: spec.size }, () => Math.round((random() * 2 - 1) * weightScale)), shift: spec.kind === 'bias' ? 8 : 4 }
        : undefined,
    );
    const fixed = new ArmFixedPoint(plan, tensors);
    const rows = 333; // not a multiple of the workgroup size
    const context = Int32Array.from({ length: rows * plan.armInputs }, (_, i) =>
      i % plan.armInputs >= plan.armInputs - 2 ? (random() < 0.5 ? 1 : 0) : Math.round((random() * 2 - 1) * scale),
    );
    const expected = new Int32Array(rows * 2);
    const out2 = new Int32Array(2);
    for (let r = 0; r < rows; r++) {
      fixed.forward(context.subarray(r * plan.armInputs, (r + 1) * plan.armInputs), out2);
      expected.set(out2, 2 * r);
    }
    const gpuModel = armFixedBuffers(ctx, fixed);
    const out = ctx.buffer(rows * 2);
    ctx.run([armFixedPoint(ctx, rows, gpuModel, { context: ctx.upload(context), out })]);
    const got = new Int32Array((await ctx.read(out, rows * 2)).buffer.slice(0, rows * 8));
    t.deepEqual(Array.from(got), Array.from(expected), `seed ${seed}`);
  }
});
