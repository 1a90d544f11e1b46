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
    for (let k = 0; k < this.layers.length; k++) {
      const { inC, outC, w, b, hidden, first } = this.layers[k];
      const y = this.buffers[k];
      for (let o = 0; o < outC; o++) {
        let acc = b[o];
        for (let i = 0; i < inC; i++) acc = (acc + Math.imul(x[i], w[i * outC + o])) | 0;
        if (!first) acc = ((acc + (ONE >> 1)) | 0) >> F;
        if (hidden) acc = acc < 0 ? 0 : acc > HIDDEN_CEILING ? HIDDEN_CEILING : acc;
        y[o] = acc;
      }
      x = y;
    }
    let mu = x[0];
    let logScale = x[1];
    for (let i = 0; i < this.inputs; i++) {
      mu = (mu + Math.imul(context[i], this.linear[2 * i])) | 0;
      logScale = (logScale + Math.imul(context[i], this.linear[2 * i + 1])) | 0;
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

/** Table indices and rounded centre for a fixed-point (mu, log-scale). */
export function tableOf(mu: number, logScale: number): { center: number; s: number; o: number } {
  const limit = LATENT_MAX << F;
  const m = mu < -limit ? -limit : mu > limit ? limit : mu;
  const center = (m + (ONE >> 1)) >> F;
  const offsetBits = F - Math.log2(L.offsets);
  const o = (m - center * ONE + (ONE >> 1)) >> offsetBits;
  const scaleBits = F - Math.log2(L.scalesPerUnit);
  const raw = (logScale - L.logScaleMin * ONE) >> scaleBits;
  return { center, s: raw < 0 ? 0 : raw >= L.scales ? L.scales - 1 : raw, o };
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

interface TapPlan {
  source: 0 | 1 | 2;
  dy: number;
  dx: number;
}

/**
 * Walks the latents of one frame in decoding order (coarsest level first; within a level the
 * checkerboard's anchors, then the rest; or raster order) and fills each latent's integer context.
 */
class ContextWalker {
  readonly geom: LatentGeometry;
  readonly taps: TapPlan[];
  readonly checkerboard: boolean;
  readonly context: Int32Array;

  constructor(model: ModelDescription) {
    this.geom = modelGeometry(model);
    const spec = contextSpec(model);
    this.checkerboard = spec.schedule === 'checkerboard';
    this.taps = spec.taps.map((t) => ({ source: t.from === 'current' ? 0 : t.from === 'previous' ? 1 : 2, dy: t.dy, dx: t.dx }));
    this.context = new Int32Array(this.taps.length + ARM_FLAG_INPUTS);
  }

  /** Calls visit(index within the frame) for every latent of a frame, in decoding order. */
  forEach(current: Int32Array, previous: Int32Array | undefined, visit: (index: number) => void): void {
    const { levels } = this.geom;
    const ctx = this.context;
    const nTaps = this.taps.length;
    for (let l = levels.length - 1; l >= 0; l--) {
      const level = levels[l];
      const parent = l + 1 < levels.length ? levels[l + 1] : undefined;
      const passes = this.checkerboard ? 2 : 1;
      for (let pass = 0; pass < passes; pass++) {
        for (let y = 0; y < level.height; y++) {
          for (let x = this.checkerboard ? (y + pass) & 1 : 0; x < level.width; x += passes) {
            const anchor = isAnchor(this.checkerboard ? 'checkerboard' : 'raster', y, x);
            for (let k = 0; k < nTaps; k++) {
              const tap = this.taps[k];
              let value = 0;
              if (tap.source === 0) {
                const ty = y + tap.dy;
                const tx = x + tap.dx;
                if (!anchor && ty >= 0 && tx >= 0 && ty < level.height && tx < level.width) value = current[level.offset + ty * level.width + tx];
              } else if (tap.source === 1) {
                const ty = y + tap.dy;
                const tx = x + tap.dx;
                if (previous && ty >= 0 && tx >= 0 && ty < level.height && tx < level.width) value = previous[level.offset + ty * level.width + tx];
              } else if (parent) {
                const ty = (y >> 1) + tap.dy;
                const tx = (x >> 1) + tap.dx;
                if (ty >= 0 && tx >= 0 && ty < parent.height && tx < parent.width) value = current[parent.offset + ty * parent.width + tx];
              }
              ctx[k] = value;
            }
            ctx[nTaps] = anchor ? 1 : 0;
            ctx[nTaps + 1] = previous ? 0 : 1;
            visit(level.offset + y * level.width + x);
          }
        }
      }
    }
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

export function latentCoder(model: ModelDescription, arm: (QuantizedArmTensor | undefined)[]): LatentCoder {
  const plan = planModel(model);
  const fixed = new ArmFixedPoint(plan, arm);
  const walker = new ContextWalker(model);
  const perFrame = walker.geom.perFrame;
  const out = new Int32Array(2);
  const distribution = () => {
    fixed.forward(walker.context, out);
    return tableOf(out[0], out[1]);
  };
  const encodeInto = (writer: RansWriter, frames: Int32Array[], previous: Int32Array | undefined) => {
    let prev = previous;
    for (const frame of frames) {
      if (frame.length !== perFrame) throw new Error(`a frame has ${frame.length} latents, expected ${perFrame}`);
      walker.forEach(frame, prev, (i) => {
        const { center, s, o } = distribution();
        const v = frame[i];
        if (v > LATENT_MAX || v < -LATENT_MAX) throw new Error(`latent ${v} outside +-${LATENT_MAX}`);
        putResidual(writer, latentTable(s, o), v - center);
      });
      prev = frame;
    }
  };
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
      const { levels } = walker.geom;
      const byLevel = new Array<number>(levels.length).fill(0);
      let prev = previous;
      for (const frame of frames) {
        walker.forEach(frame, prev, (i) => {
          const writer = new RansWriter();
          const { center, s, o } = distribution();
          putResidual(writer, latentTable(s, o), frame[i] - center);
          let level = levels.length - 1;
          while (levels[level].offset > i) level--;
          byLevel[level] += writer.bits;
        });
        prev = frame;
      }
      return byLevel;
    },
    decode(bytes, frameCount, previous) {
      const reader = new RansReader(bytes);
      const frames: Int32Array[] = [];
      let prev = previous;
      for (let f = 0; f < frameCount; f++) {
        const frame = new Int32Array(perFrame);
        walker.forEach(frame, prev, (i) => {
          const { center, s, o } = distribution();
          const v = center + readResidual(reader, latentTable(s, o));
          if (v > LATENT_MAX || v < -LATENT_MAX) throw new NervFormatError('entropy', `decoded latent ${v} outside +-${LATENT_MAX}`);
          frame[i] = v;
        });
        frames.push(frame);
        prev = frame;
      }
      reader.finish();
      return frames;
    },
  };
}

export const LATENT_ALPHABET_MAX = alphabetSize(1, L.magnitudeBits);
