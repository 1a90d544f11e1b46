/**
 * Entropy coding of the latents: every latent is coded under a discretised Laplace whose mean and
 * scale the context model predicts from already decoded latents. The model runs in fixed point
 * (int32, weights and activations with 8 fractional bits), and (mean, log-scale) select one of a
 * finite set of integer probability tables, so every decoder (JavaScript here, WGSL or any other
 * language) derives bit-identical probabilities. docs/format.md, "Latents", is the specification.
 */
import { NervFormatError } from '../errors.ts';
import { LAPLACE_TABLE_LAYOUT as L } from './laplace_layout.ts';
import { LAPLACE_DECAY, LAPLACE_SPLIT, LAPLACE_TAILS } from './laplace_tables.gen.ts';
import { alphabetSize, laplaceWeights, normalizeFrequencies, PROB_BITS, PROB_SCALE } from './tables.ts';
import { RansReader, RansWriter } from './rans.ts';
import { ARM_FLAG_INPUTS, ARM_FRACTION_BITS, ARM_HIDDEN_MAX, ARM_LOG_SCALE_SHIFT, LATENT_MAX, type ModelDescription } from '../nn/model.ts';
import { contextSpec, modelGeometry, planModel, type ModelPlan } from '../nn/layers.ts';
import { isAnchor, type LatentGeometry } from '../cpu/latents.ts';

const F = ARM_FRACTION_BITS;
const ONE = 1 << F;
const HIDDEN_CEILING = ARM_HIDDEN_MAX << F;
/** Largest |ARM weight| the encoder stores, so no int32 product or sum can overflow (docs/model.md). */
export const ARM_WEIGHT_LIMIT = 8;
/** Finest ARM quantization step is 2^-8: weights are then exact in the 8-fractional-bit fixed point. */
export const ARM_MAX_STEP_SHIFT = F;

// ------------------------------------------------------------------------------ fixed-point ARM

/** One quantized tensor: value = symbol * 2^-shift. */
export interface QuantizedArmTensor {
  symbols: Int32Array;
  shift: number;
}

interface FixedLayer {
  inC: number;
  outC: number;
  /** [inC, outC], 8 fractional bits. */
  w: Int32Array;
  /** [outC], aligned to the accumulator: 8 fractional bits for the first layer, 16 after. */
  b: Int32Array;
  hidden: boolean;
  first: boolean;
}

/**
 * The context model in integer arithmetic. Inputs are integers (latents and 0/1 flags); a layer's
 * accumulator has 8 fractional bits (first layer) or 16 (later layers, then rounded back to 8 by
 * (acc + 128) >> 8); hidden activations are clamped to [0, 255.0]. All sums wrap modulo 2^32 as int32
 * (Math.imul and | 0 here, i32 in WGSL), so even an overflow is reproduced bit for bit.
 */
export class ArmFixedPoint {
  private readonly layers: FixedLayer[];
  private readonly linear: Int32Array;
  private readonly inputs: number;
  private readonly buffers: Int32Array[];

  constructor(plan: ModelPlan, tensors: (QuantizedArmTensor | undefined)[]) {
    this.inputs = plan.armInputs;
    const toFixed = (t: QuantizedArmTensor, fraction: number) => {
      const shift = fraction - t.shift;
      if (shift < 0) throw new NervFormatError('chunk', `context model step 2^-${t.shift} is finer than 2^-${fraction}`);
      return t.symbols.map((s) => s * 2 ** shift);
    };
    this.layers = plan.arm.map((layer, i) => ({
      inC: layer.inC,
      outC: layer.outC,
      w: toFixed(tensors[layer.weight]!, F),
      b: toFixed(tensors[layer.bias]!, i === 0 ? F : 2 * F),
      hidden: layer.hidden,
      first: i === 0,
    }));
    this.linear = toFixed(tensors[plan.armLinear.weight]!, F);
    this.buffers = plan.arm.map((l) => new Int32Array(l.outC));
  }

  /** All integer parameters in one array, as shaders/arm_fixed.wgsl reads them. */
  packed(): { params: Int32Array; layers: { inC: number; outC: number; weights: number; biases: number }[]; linear: number; inputs: number } {
    const parts: Int32Array[] = [];
    let offset = 0;
    const place = (a: Int32Array) => {
      parts.push(a);
      offset += a.length;
      return offset - a.length;
    };
    const layers = this.layers.map((l) => ({ inC: l.inC, outC: l.outC, weights: place(l.w), biases: place(l.b) }));
    const linear = place(this.linear);
    const params = new Int32Array(offset);
    let at = 0;
    for (const part of parts) {
      params.set(part, at);
      at += part.length;
    }
    return { params, layers, linear, inputs: this.inputs };
  }

  /** (mu, log-scale) with 8 fractional bits into out[0], out[1]; the log-scale shift included. */
  forward(context: Int32Array, out: Int32Array): void {
    let x: Int32Array = context;
    const layers = this.layers;
    for (let k = 0; k < layers.length; k++) {
      const { inC, outC, w, b, hidden, first } = layers[k];
      const y = this.buffers[k];
      y.set(b);
      // Input by input: most contexts and many activations are 0, and a 0 adds nothing.
      for (let i = 0; i < inC; i++) {
        const v = x[i];
        if (v === 0) continue;
        const row = i * outC;
        for (let o = 0; o < outC; o++) y[o] = (y[o] + Math.imul(v, w[row + o])) | 0;
      }
      for (let o = 0; o < outC; o++) {
        let acc = y[o];
        if (!first) acc = ((acc + (ONE >> 1)) | 0) >> F;
        if (hidden) acc = acc < 0 ? 0 : acc > HIDDEN_CEILING ? HIDDEN_CEILING : acc;
        y[o] = acc;
      }
      x = y;
    }
    let mu = x[0];
    let logScale = x[1];
    const linear = this.linear;
    for (let i = 0; i < this.inputs; i++) {
      const v = context[i];
      if (v === 0) continue;
      mu = (mu + Math.imul(v, linear[2 * i])) | 0;
      logScale = (logScale + Math.imul(v, linear[2 * i + 1])) | 0;
    }
    out[0] = mu;
    out[1] = (logScale + ARM_LOG_SCALE_SHIFT * ONE) | 0;
  }
}

// -------------------------------------------------------------------------- probability tables

export interface LatentTable {
  split: number;
  /** Cumulative frequencies of the magnitude tokens, [size + 1], summing to 2^15. */
  cumulative: Int32Array;
  /** Frequency (of 2^15) of a positive sign given a non-zero magnitude. */
  positive: number;
}

const tables: (LatentTable | undefined)[] = new Array(L.scales * L.offsets);

/** The magnitude/sign tables of scale bucket s and mean offset o, built from integers only. */
export function latentTable(s: number, o: number): LatentTable {
  const key = s * L.offsets + o;
  let table = tables[key];
  if (table) return table;
  const plus = LAPLACE_TAILS[2 * key];
  const minus = LAPLACE_TAILS[2 * key + 1];
  const split = LAPLACE_SPLIT[s];
  const zero = Math.max(1, 65536 - plus - minus);
  const weights = laplaceWeights(split, zero, LAPLACE_DECAY[s], L.magnitudeBits);
  // Every token stays codable (an outlier costs many bits, never makes the file impossible).
  for (let t = 0; t < weights.length; t++) if (weights[t] < 1) weights[t] = 1;
  const freq = normalizeFrequencies(weights);
  const cumulative = new Int32Array(freq.length + 1);
  for (let t = 0; t < freq.length; t++) cumulative[t + 1] = cumulative[t] + freq[t];
  const tails = plus + minus;
  const positive = tails === 0 ? PROB_SCALE >> 1 : Math.min(PROB_SCALE - 1, Math.max(1, Math.floor((plus * PROB_SCALE) / tails)));
  table = { split, cumulative, positive };
  tables[key] = table;
  return table;
}

const MU_LIMIT = LATENT_MAX << F;
const OFFSET_BITS = F - Math.log2(L.offsets);
const SCALE_BITS = F - Math.log2(L.scalesPerUnit);
const LOG_SCALE_ORIGIN = L.logScaleMin * ONE;

/**
 * Rounded centre and table of a fixed-point (mu, log-scale), into out: [centre, table key, 0] with
 * key = scale bucket * offsets + offset bucket (see latentTable).
 */
export function tableOf(mu: number, logScale: number, out: Int32Array): void {
  const m = mu < -MU_LIMIT ? -MU_LIMIT : mu > MU_LIMIT ? MU_LIMIT : mu;
  const center = (m + (ONE >> 1)) >> F;
  const o = (m - center * ONE + (ONE >> 1)) >> OFFSET_BITS;
  const raw = (logScale - LOG_SCALE_ORIGIN) >> SCALE_BITS;
  const s = raw < 0 ? 0 : raw >= L.scales ? L.scales - 1 : raw;
  out[0] = center;
  out[1] = s * L.offsets + o;
}

function latentTableByKey(key: number): LatentTable {
  return tables[key] ?? latentTable((key / L.offsets) | 0, key % L.offsets);
}

function putResidual(writer: RansWriter, table: LatentTable, r: number): void {
  const m = r < 0 ? -r : r;
  const direct = 1 << table.split;
  let token = m;
  let extraBits = 0;
  let extra = 0;
  if (m >= direct) {
    const n = 31 - Math.clz32(m);
    extraBits = n - 1;
    token = direct + ((n - table.split) << 1) + ((m >>> extraBits) & 1);
    extra = m & ((1 << extraBits) - 1);
  }
  const c = table.cumulative;
  writer.put(c[token], c[token + 1] - c[token], PROB_BITS);
  writer.putBits(extra, extraBits);
  if (m !== 0) writer.put(r < 0 ? table.positive : 0, r < 0 ? PROB_SCALE - table.positive : table.positive, PROB_BITS);
}

function readResidual(reader: RansReader, table: LatentTable): number {
  const c = table.cumulative;
  const slot = reader.peek(PROB_BITS);
  // Binary search for the token whose interval holds the slot.
  let lo = 0;
  let hi = c.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (c[mid] <= slot) lo = mid;
    else hi = mid - 1;
  }
  const token = lo;
  reader.advance(c[token], c[token + 1] - c[token], PROB_BITS);
  const direct = 1 << table.split;
  let m = token;
  if (token >= direct) {
    const j = token - direct;
    const n = table.split + (j >> 1);
    const extraBits = n - 1;
    m = (1 << n) + (j & 1) * (1 << extraBits) + reader.bits(extraBits);
  }
  if (m === 0) return 0;
  const sign = reader.peek(PROB_BITS);
  if (sign < table.positive) {
    reader.advance(0, table.positive, PROB_BITS);
    return m;
  }
  reader.advance(table.positive, PROB_SCALE - table.positive, PROB_BITS);
  return -m;
}

// ---------------------------------------------------------------------------------- context

/**
 * The decoding order of one frame's latents (coarsest level first; within a level the
 * checkerboard's anchors, then the rest; or raster order) with, for every latent in that order,
 * where each of its taps reads: an index into the current or previous frame, or -1 for 0. Built
 * once per model, so coding a latent is a few array reads, the fixed-point network and one rANS
 * step.
 */
class ContextPlan {
  readonly geom: LatentGeometry;
  readonly taps: number;
  /** Latent index (within its frame) of the k-th latent in decoding order. */
  readonly order: Int32Array;
  /** [k * taps + t]: where tap t of the k-th latent reads (index into `fromPrevious` ? previous : current), -1: reads 0. */
  readonly source: Int32Array;
  readonly fromPrevious: Uint8Array;
  readonly anchor: Uint8Array;

  constructor(model: ModelDescription) {
    this.geom = modelGeometry(model);
    const spec = contextSpec(model);
    const checkerboard = spec.schedule === 'checkerboard';
    const { levels, perFrame } = this.geom;
    this.taps = spec.taps.length;
    this.order = new Int32Array(perFrame);
    this.source = new Int32Array(perFrame * this.taps);
    this.anchor = new Uint8Array(perFrame);
    this.fromPrevious = Uint8Array.from(spec.taps, (t) => (t.from === 'previous' || t.from === 'previous-parent' ? 1 : 0));
    let k = 0;
    for (let l = levels.length - 1; l >= 0; l--) {
      const level = levels[l];
      const parent = l + 1 < levels.length ? levels[l + 1] : undefined;
      const passes = checkerboard ? 2 : 1;
      for (let pass = 0; pass < passes; pass++) {
        for (let y = 0; y < level.height; y++) {
          for (let x = checkerboard ? (y + pass) & 1 : 0; x < level.width; x += passes, k++) {
            const anchor = isAnchor(spec.schedule, y, x);
            this.order[k] = level.offset + y * level.width + x;
            this.anchor[k] = anchor ? 1 : 0;
            spec.taps.forEach((tap, t) => {
              let at = -1;
              if (tap.from === 'parent' || tap.from === 'previous-parent') {
                const ty = (y >> 1) + tap.dy;
                const tx = (x >> 1) + tap.dx;
                if (parent && ty >= 0 && tx >= 0 && ty < parent.height && tx < parent.width) at = parent.offset + ty * parent.width + tx;
              } else {
                const ty = y + tap.dy;
                const tx = x + tap.dx;
                const visible = tap.from === 'previous' || !anchor;
                if (visible && ty >= 0 && tx >= 0 && ty < level.height && tx < level.width) at = level.offset + ty * level.width + tx;
              }
              this.source[k * this.taps + t] = at;
            });
          }
        }
      }
    }
  }

  /** Fills `context` for the k-th latent in decoding order. */
  fill(context: Int32Array, k: number, current: Int32Array, previous: Int32Array | undefined): void {
    const taps = this.taps;
    const base = k * taps;
    for (let t = 0; t < taps; t++) {
      const at = this.source[base + t];
      context[t] = at < 0 ? 0 : this.fromPrevious[t] ? (previous ? previous[at] : 0) : current[at];
    }
    context[taps] = this.anchor[k];
    context[taps + 1] = previous ? 0 : 1;
  }
}

// ------------------------------------------------------------------------------------ coding

export interface LatentCoder {
  /** One rANS stream for the frames of a group; `previous` is the last frame of the group before (predicted groups). */
  encode(frames: Int32Array[], previous: Int32Array | undefined): { bytes: Uint8Array; bits: number };
  decode(bytes: Uint8Array, frameCount: number, previous: Int32Array | undefined): Int32Array[];
  /** Exact code length (bits) of each latent under the model, without coding (for reports and rate control). */
  bits(frames: Int32Array[], previous: Int32Array | undefined): number;
  /** The same, split by latent level (finest first). */
  bitsByLevel(frames: Int32Array[], previous: Int32Array | undefined): number[];
}

const plans = new WeakMap<ModelDescription, ContextPlan>();

export function latentCoder(model: ModelDescription, arm: (QuantizedArmTensor | undefined)[]): LatentCoder {
  const fixed = new ArmFixedPoint(planModel(model), arm);
  let plan = plans.get(model);
  if (!plan) {
    plan = new ContextPlan(model);
    plans.set(model, plan);
  }
  const contextPlan = plan;
  const { perFrame, levels } = contextPlan.geom;
  const context = new Int32Array(contextPlan.taps + ARM_FLAG_INPUTS);
  const out = new Int32Array(2);
  const table = new Int32Array(3);
  /** The table of the k-th latent: table[0] = centre, table[1] = table key. */
  const distribution = (k: number, current: Int32Array, previous: Int32Array | undefined): LatentTable => {
    contextPlan.fill(context, k, current, previous);
    fixed.forward(context, out);
    tableOf(out[0], out[1], table);
    return latentTableByKey(table[1]);
  };
  const walk = (frames: Int32Array[], previous: Int32Array | undefined, code: (k: number, frame: Int32Array, t: LatentTable, center: number) => void) => {
    let prev = previous;
    for (const frame of frames) {
      if (frame.length !== perFrame) throw new Error(`a frame has ${frame.length} latents, expected ${perFrame}`);
      for (let k = 0; k < perFrame; k++) {
        const t = distribution(k, frame, prev);
        code(k, frame, t, table[0]);
      }
      prev = frame;
    }
  };
  const encodeInto = (writer: RansWriter, frames: Int32Array[], previous: Int32Array | undefined) =>
    walk(frames, previous, (k, frame, t, center) => {
      const v = frame[contextPlan.order[k]];
      if (v > LATENT_MAX || v < -LATENT_MAX) throw new Error(`latent ${v} outside +-${LATENT_MAX}`);
      putResidual(writer, t, v - center);
    });
  return {
    encode(frames, previous) {
      const writer = new RansWriter();
      encodeInto(writer, frames, previous);
      return { bytes: writer.finish(), bits: writer.bits };
    },
    bits(frames, previous) {
      const writer = new RansWriter();
      encodeInto(writer, frames, previous);
      return writer.bits;
    },
    bitsByLevel(frames, previous) {
      const byLevel = new Array<number>(levels.length).fill(0);
      walk(frames, previous, (k, frame, t, center) => {
        const writer = new RansWriter();
        const i = contextPlan.order[k];
        putResidual(writer, t, frame[i] - center);
        let level = levels.length - 1;
        while (levels[level].offset > i) level--;
        byLevel[level] += writer.bits;
      });
      return byLevel;
    },
    decode(bytes, frameCount, previous) {
      const reader = new RansReader(bytes);
      const frames: Int32Array[] = [];
      let prev = previous;
      const order = contextPlan.order;
      for (let f = 0; f < frameCount; f++) {
        const frame = new Int32Array(perFrame);
        for (let k = 0; k < perFrame; k++) {
          const t = distribution(k, frame, prev);
          const v = table[0] + readResidual(reader, t);
          if (v > LATENT_MAX || v < -LATENT_MAX) throw new NervFormatError('entropy', `decoded latent ${v} outside +-${LATENT_MAX}`);
          frame[order[k]] = v;
        }
        frames.push(frame);
        prev = frame;
      }
      reader.finish();
      return frames;
    },
  };
}

export const LATENT_ALPHABET_MAX = alphabetSize(1, L.magnitudeBits);
