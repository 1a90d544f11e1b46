// The fused synthesis kernels (shaders/synthesis_head*.wgsl, synthesis_conv*.wgsl), generated from
// the model's layer list: a head of dense layers fed by the latent upsampling, then narrow (<= 4
// channel) 3x3 convolutions, the last one fused with the colour loss in training. Activations are
// stored as one vec4 per pixel, so no kernel pads or packs anything per step. CPU twins: src/cpu/fused.ts.
import { divUp, type GpuContext, type GpuProgram } from '../context.ts';
import { NervError } from '../../errors.ts';
import { f32Literal, requireBufferFloats, requirePositiveIntegers } from './shape-checks.ts';
import { invocationGrid } from './activation.ts';
import { reduceSum, targetFloatsPerFrame } from './latents.ts';
import { rowSumLayout } from './latent_step.ts';
import { gradientAccumulators, packedRange, paramRef, sumTerms } from './packed.ts';
import type { LatentGeometry } from '../../cpu/latents.ts';
import type { ModelPlan, PackedParameters, SynthesisLayerPlan } from '../../nn/layers.ts';
import type { LayerActivation } from '../../nn/model.ts';
import { LEAKY_SLOPE } from '../../cpu/activation.ts';

/** Pixels along x per conv tile (2 rows high); even, so 2x2 chroma blocks never straddle tiles. */

/** WGSL for a synthesis activation of `value`. */
function activate(act: LayerActivation, value: string): string {
  if (act === 'relu') return `max(${value}, 0.0)`;
  if (act === 'leaky') return `select(${f32Literal(LEAKY_SLOPE)} * (${value}), ${value}, (${value}) > 0.0)`;
  return value;
}

/** WGSL for the gradient `grad` through an activation whose input (or output: same sign) is `x`. */
function activationSlope(act: LayerActivation, grad: string, x: string): string {
  if (act === 'relu') return `select(0.0, ${grad}, ${x} > 0.0)`;
  if (act === 'leaky') return `select(${f32Literal(LEAKY_SLOPE)} * (${grad}), ${grad}, ${x} > 0.0)`;
  return grad;
}

export const CONV_TILE_X = 8;
/** Most weights the fused head unrolls (the default head has 160). */
export const HEAD_MAX_WEIGHTS = 1024;
const XYZW = 'xyzw';

export interface FusedSynthesisPlan {
  /** The leading dense layers, fed by the upsampled latents. */
  head: SynthesisLayerPlan[];
  /** The 3x3 layers after them, each with at most 4 input and output channels. */
  convs: SynthesisLayerPlan[];
  levels: number;
  /** vec4s per pixel of stored features. */
  featureVec4s: number;
}

/** The fused kernels' shape of the synthesis, or why they do not cover it. */
export function fusedSynthesisPlan(plan: ModelPlan): FusedSynthesisPlan | string {
  const layers = plan.synthesis;
  const firstConv = layers.findIndex((l) => l.op === 'conv3');
  const head = layers.slice(0, firstConv < 0 ? layers.length : firstConv);
  const convs = layers.slice(head.length);
  if (head.length === 0) return 'the synthesis does not start with a dense layer';
  if (convs.length === 0) return 'the synthesis has no 3x3 layer to fuse the loss into';
  if (convs.some((l) => l.op !== 'conv3')) return 'a dense layer follows a 3x3 layer';
  if (convs.some((l) => l.inC > 4 || l.outC > 4)) return 'a 3x3 layer has more than 4 channels';
  if (head.reduce((s, l) => s + l.inC * l.outC, 0) > HEAD_MAX_WEIGHTS) return `the dense layers have more than ${HEAD_MAX_WEIGHTS} weights`;
  const levels = head[0].inC;
  return { head, convs, levels, featureVec4s: Math.ceil(levels / 4) };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const vecOf = (values: string[]) => `vec4f(${[...values, '0.0', '0.0', '0.0', '0.0'].slice(0, 4).join(', ')})`;
const u = (n: number) => `${n}u`;

/** WGSL of one dense layer on inputs `input(i)`: `let z{k}_o` (pre-activation) and `let h{k}_o` (output). */
function denseLines(layout: PackedParameters, layer: SynthesisLayerPlan, k: number, input: (i: number) => string, indent: string): string[] {
  const w = layout.offsets[layer.weight];
  const b = layout.offsets[layer.bias];
  const lines: string[] = [];
  for (let o = 0; o < layer.outC; o++) {
    const terms = [paramRef(b + o), ...range(layer.inC).map((i) => `${input(i)} * ${paramRef(w + i * layer.outC + o)}`)];
    lines.push(`${indent}let z${k}_${o} = ${sumTerms(terms)};`);
    lines.push(`${indent}let h${k}_${o} = ${activate(layer.act, `z${k}_${o}`)};`);
  }
  return lines;
}

/** Pixels per head invocation: 4 along x (levels of stride >= 8 interpolate all 4 between the same latents). */
const HEAD_QUAD = 4;

function headForwardSource(layout: PackedParameters, geom: LatentGeometry, synth: FusedSynthesisPlan, training: boolean) {
  const Q = HEAD_QUAD;
  const pixels: string[] = [];
  for (let t = 0; t < Q; t++) {
    // Pixels past the row's end are computed at its last pixel and not stored.
    pixels.push(`  let x${t} = min((quad % QUADS_X) * ${u(Q)} + ${u(t)}, WIDTH - 1u); let valid${t} = (quad % QUADS_X) * ${u(Q)} + ${u(t)} < WIDTH;`);
    pixels.push(`  let fx${t} = f32(x${t}) + 0.5; let p${t} = row * WIDTH + x${t};`);
  }
  const upsample: string[] = [];
  geom.levels.forEach((level, l) => {
    if (level.stride === 1) {
      // g = x exactly and the second tap weighs 0: the pixel's own latent.
      for (let t = 0; t < Q; t++) upsample.push(`  let f${l}_${t} = latents[base + ${u(level.offset)} + y * ${u(level.width)} + x${t}];`);
      return;
    }
    const inv = f32Literal(1 / level.stride);
    const last = level.width - 1;
    upsample.push(
      `  let gy${l} = clamp(fy * ${inv} - 0.5, 0.0, ${f32Literal(level.height - 1)});`,
      `  let y0_${l} = min(u32(gy${l}), ${u(level.height - 1)}); let y1_${l} = min(y0_${l} + 1u, ${u(level.height - 1)});`,
      `  let ty${l} = gy${l} - f32(y0_${l});`,
      `  let r0_${l} = base + ${u(level.offset)} + y0_${l} * ${u(level.width)}; let r1_${l} = base + ${u(level.offset)} + y1_${l} * ${u(level.width)};`,
    );
    for (let t = 0; t < Q; t++) upsample.push(`  let gx${l}_${t} = clamp(fx${t} * ${inv} - 0.5, 0.0, ${f32Literal(last)});`);
    // Column boundaries fall at multiples of stride / 2, so for strides >= 8 no quad straddles one.
    const shared = level.stride >= 2 * Q;
    for (let t = 0; t < Q; t++) {
      const c = shared ? 0 : t;
      if (!shared || t === 0) {
        upsample.push(
          `  let x0_${l}_${c} = min(u32(gx${l}_${c}), ${u(last)}); let x1_${l}_${c} = min(x0_${l}_${c} + 1u, ${u(last)});`,
          `  let a${l}_${c} = latents[r0_${l} + x0_${l}_${c}]; let b${l}_${c} = latents[r0_${l} + x1_${l}_${c}];`,
          `  let c${l}_${c} = latents[r1_${l} + x0_${l}_${c}]; let d${l}_${c} = latents[r1_${l} + x1_${l}_${c}];`,
        );
      }
      upsample.push(
        `  let tx${l}_${t} = gx${l}_${t} - f32(x0_${l}_${c});`,
        `  let top${l}_${t} = a${l}_${c} + tx${l}_${t} * (b${l}_${c} - a${l}_${c}); let bottom${l}_${t} = c${l}_${c} + tx${l}_${t} * (d${l}_${c} - c${l}_${c});`,
        `  let f${l}_${t} = top${l}_${t} + ty${l} * (bottom${l}_${t} - top${l}_${t});`,
      );
    }
  });
  const layers: string[] = [];
  const last = synth.head.length - 1;
  for (let t = 0; t < Q; t++) {
    const rename = (line: string) => line.replace(/\b([zh]\d+_\d+)\b/g, `$1_${t}`);
    synth.head.forEach((layer, k) => {
      layers.push(...denseLines(layout, layer, k, (i) => (k === 0 ? `f${i}_${t}` : `h${k - 1}_${i}_${t}`), '  ').map(rename));
    });
    const stores = [`head[p${t}] = ${vecOf(range(synth.head[last].outC).map((o) => `h${last}_${o}_${t}`))};`];
    if (training) {
      for (let q = 0; q < synth.featureVec4s; q++) {
        stores.push(
          `features[p${t} * ${u(synth.featureVec4s)} + ${u(q)}] = ${vecOf(
            range(4)
              .filter((c) => 4 * q + c < synth.levels)
              .map((c) => `f${4 * q + c}_${t}`),
          )};`,
        );
      }
    }
    layers.push(`  if (valid${t}) { ${stores.join(' ')} }`);
  }
  return {
    PIXELS: pixels.join('\n'),
    UPSAMPLE: upsample.join('\n'),
    LAYERS: layers.join('\n'),
    FEATURE_BINDING: training ? '@group(0) @binding(4) var<storage, read_write> features: array<vec4f>;' : '',
  };
}

function checkParams(ctx: GpuContext, kernel: string, layout: PackedParameters, params: GPUBuffer): void {
  requireBufferFloats(kernel, 'params', params, layout.floats);
  if (layout.floats * 4 > ctx.device.limits.maxUniformBufferBindingSize)
    throw new NervError('BAD_ARGUMENT', `${kernel}: parameters exceed the uniform binding limit`);
}

/**
 * The head over `frames` frames starting at frame `first` of `latents`: head [pixels] vec4s and,
 * with `features`, the upsampled latents [pixels, featureVec4s] vec4s.
 */
export function synthesisHead(
  ctx: GpuContext,
  layout: PackedParameters,
  geom: LatentGeometry,
  synth: FusedSynthesisPlan,
  frames: number,
  first: number,
  buffers: { latents: GPUBuffer; params: GPUBuffer; slot: GPUBuffer; head: GPUBuffer; features?: GPUBuffer },
): GpuProgram {
  const kernel = 'synthesisHead';
  requirePositiveIntegers(kernel, { frames, first, width: geom.width, height: geom.height });
  if (synth.levels !== geom.levels.length)
    throw new NervError('BAD_ARGUMENT', `${kernel}: ${geom.levels.length} latent levels, the head takes ${synth.levels}`);
  const pixels = frames * geom.width * geom.height;
  checkParams(ctx, kernel, layout, buffers.params);
  requireBufferFloats(kernel, 'latents', buffers.latents, (first + frames) * geom.perFrame);
  requireBufferFloats(kernel, 'head', buffers.head, pixels * 4);
  if (buffers.features) requireBufferFloats(kernel, 'features', buffers.features, pixels * synth.featureVec4s * 4);
  const quadsX = Math.ceil(geom.width / HEAD_QUAD);
  const grid = invocationGrid(ctx, frames * geom.height * quadsX);
  const pipeline = ctx.pipeline('synthesis_head', { PARAM_VEC4S: layout.floats / 4, ...headForwardSource(layout, geom, synth, !!buffers.features) }, 'main', {
    WIDTH: geom.width,
    HEIGHT: geom.height,
    FRAMES: frames,
    PER_FRAME: geom.perFrame,
    QUADS_X: quadsX,
    GRID_X: grid.gridX,
  });
  const bound = [buffers.latents, buffers.params, buffers.slot, buffers.head, ...(buffers.features ? [buffers.features] : [])];
  return ctx.dispatch(pipeline, bound, grid.workgroups);
}

/** The tile's 4 x (CONV_TILE_X + 2) vec4s of `source` around rows y0, y0 + 1 (zero outside the image) as `{name}{r}_{c}`. */
function loadTile(source: string, name: string, indent: string): string[] {
  const lines: string[] = [];
  for (let r = 0; r < 4; r++)
    lines.push(`${indent}let yy${r} = i32(y0) + ${r - 1}; let rok${r} = u32(yy${r}) < HEIGHT; let rb${r} = (frameRow + u32(yy${r})) * WIDTH;`);
  for (let c = 0; c < CONV_TILE_X + 2; c++) lines.push(`${indent}let xx${c} = i32(x0) + ${c - 1}; let cok${c} = u32(xx${c}) < WIDTH;`);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < CONV_TILE_X + 2; c++) {
      const ok = `rok${r} & cok${c}`;
      lines.push(`${indent}let ${name}${r}_${c} = select(vec4f(0.0), ${source}[select(0u, rb${r} + u32(xx${c}), ${ok})], ${ok});`);
    }
  }
  return lines;
}

const weightIndex = (layout: PackedParameters, layer: SynthesisLayerPlan, ky: number, kx: number, i: number, o: number) =>
  layout.offsets[layer.weight] + ((ky * 3 + kx) * layer.inC + i) * layer.outC + o;

export type ConvMode =
  | { kind: 'store'; out: GPUBuffer }
  | { kind: 'output'; out: GPUBuffer }
  | { kind: 'loss'; colour: 'yuv420' | 'rgb'; targets: GPUBuffer; grad: GPUBuffer; partial: GPUBuffer };

function convForwardSource(layout: PackedParameters, layer: SynthesisLayerPlan, mode: ConvMode['kind'], colour: 'yuv420' | 'rgb') {
  const TX = CONV_TILE_X;
  const compute: string[] = [];
  for (let a = 0; a < 2; a++) {
    for (let t = 0; t < TX; t++) {
      for (let o = 0; o < layer.outC; o++) {
        const terms = [paramRef(layout.offsets[layer.bias] + o)];
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            for (let i = 0; i < layer.inC; i++) terms.push(`v${a + ky}_${t + kx}.${XYZW[i]} * ${paramRef(weightIndex(layout, layer, ky, kx, i, o))}`);
          }
        }
        const value = sumTerms(terms);
        compute.push(`  let s${a}_${t}_${o} = ${activate(layer.act, value)};`);
      }
      compute.push(
        `  let valid${a}_${t} = (y0 + ${u(a)} < HEIGHT) & (x0 + ${u(t)} < WIDTH); let p${a}_${t} = (frameRow + y0 + ${u(a)}) * WIDTH + x0 + ${u(t)};`,
      );
    }
  }
  const finish: string[] = [];
  let bindings: string;
  const outs = (a: number, t: number) => range(layer.outC).map((o) => `s${a}_${t}_${o}`);
  if (mode === 'store') {
    bindings = '@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;';
    for (let a = 0; a < 2; a++) for (let t = 0; t < TX; t++) finish.push(`  if (valid${a}_${t}) { out[p${a}_${t}] = ${vecOf(outs(a, t))}; }`);
  } else if (mode === 'output') {
    bindings = '@group(0) @binding(2) var<storage, read_write> out: array<f32>;';
    for (let a = 0; a < 2; a++) {
      for (let t = 0; t < TX; t++) {
        finish.push(
          `  if (valid${a}_${t}) { ${range(layer.outC)
            .map((o) => `out[p${a}_${t} * ${u(layer.outC)} + ${u(o)}] = s${a}_${t}_${o};`)
            .join(' ')} }`,
        );
      }
    }
  } else {
    if (layer.outC !== 3) throw new NervError('BAD_ARGUMENT', 'synthesisConv: the loss needs 3 output channels');
    bindings = [
      '@group(0) @binding(2) var<storage, read> targets: array<f32>;',
      '@group(0) @binding(3) var<storage, read_write> grad: array<vec4f>;',
      '@group(0) @binding(4) var<storage, read_write> lossPartial: array<f32>;',
      'override LUMA_WEIGHT: f32;',
      'override CHROMA_WEIGHT: f32;',
      'override FRAME_FLOATS: u32;',
    ].join('\n');
    finish.push('  let t0 = j * FRAME_FLOATS;', '  var sum = 0.0;');
    if (colour === 'rgb') {
      for (let a = 0; a < 2; a++) {
        for (let t = 0; t < TX; t++) {
          const v = `valid${a}_${t}`;
          finish.push(
            `  let d${a}_${t} = select(vec3f(0.0), vec3f(s${a}_${t}_0, s${a}_${t}_1, s${a}_${t}_2) - vec3f(${range(3)
              .map((c) => `targets[select(0u, 3u * p${a}_${t} + ${c}u, ${v})]`)
              .join(', ')}), ${v});`,
            `  sum += LUMA_WEIGHT * d${a}_${t}.x * d${a}_${t}.x + LUMA_WEIGHT * d${a}_${t}.y * d${a}_${t}.y + LUMA_WEIGHT * d${a}_${t}.z * d${a}_${t}.z;`,
            `  if (${v}) { grad[p${a}_${t}] = vec4f(2.0 * LUMA_WEIGHT * d${a}_${t}, 0.0); }`,
          );
        }
      }
    } else {
      finish.push('  let cw = (WIDTH + 1u) / 2u;', '  let ch = (HEIGHT + 1u) / 2u;');
      for (let b = 0; b < TX / 2; b++) {
        const pix = [
          [0, 2 * b],
          [0, 2 * b + 1],
          [1, 2 * b],
          [1, 2 * b + 1],
        ];
        for (const [a, t] of pix) {
          const v = `valid${a}_${t}`;
          finish.push(
            `  let dl${a}_${t} = select(0.0, s${a}_${t}_0 - targets[select(0u, t0 + (y0 + ${u(a)}) * WIDTH + x0 + ${u(t)}, ${v})], ${v});`,
            `  sum += LUMA_WEIGHT * dl${a}_${t} * dl${a}_${t};`,
          );
        }
        const valid = pix.map(([a, t]) => `valid${a}_${t}`);
        finish.push(
          `  let n${b} = ${valid.map((v) => `select(0.0, 1.0, ${v})`).join(' + ')};`,
          `  let chroma${b} = ${pix.map(([a, t]) => `select(vec2f(0.0), vec2f(s${a}_${t}_1, s${a}_${t}_2), valid${a}_${t})`).join(' + ')};`,
          `  let plane${b} = t0 + WIDTH * HEIGHT + (y0 / 2u) * cw + x0 / 2u + ${u(b)};`,
          `  let dc${b} = select(vec2f(0.0), chroma${b} / max(n${b}, 1.0) - vec2f(targets[select(0u, plane${b}, ${valid[0]})], targets[select(0u, plane${b} + cw * ch, ${valid[0]})]), ${valid[0]});`,
          `  sum += CHROMA_WEIGHT * dot(dc${b}, dc${b});`,
          `  let gc${b} = 2.0 * CHROMA_WEIGHT * dc${b} / max(n${b}, 1.0);`,
        );
        for (const [a, t] of pix) finish.push(`  if (valid${a}_${t}) { grad[p${a}_${t}] = vec4f(2.0 * LUMA_WEIGHT * dl${a}_${t}, gc${b}, 0.0); }`);
      }
    }
    finish.push('  lossPartial[tile] = sum;');
  }
  return {
    MODE_BINDINGS: bindings,
    LOAD: loadTile('input', 'v', '  ').join('\n'),
    COMPUTE: compute.join('\n'),
    FINISH: finish.join('\n'),
    TILE_X: CONV_TILE_X,
  };
}

/** Tiles of a narrow conv over `frames` frames: (row pairs) x (tiles along x). */
export function convTiles(frames: number, width: number, height: number): number {
  return frames * Math.ceil(height / 2) * Math.ceil(width / CONV_TILE_X);
}

/**
 * One narrow 3x3 layer over `frames` frames of `input` [pixels] vec4s. 'loss' mode writes d loss /
 * d output [pixels] vec4s and one partial loss sum per tile (convTiles of them); reduce them with
 * convLossTotal.
 */
export function synthesisConv(
  ctx: GpuContext,
  layout: PackedParameters,
  layer: SynthesisLayerPlan,
  shape: { frames: number; width: number; height: number },
  buffers: { input: GPUBuffer; params: GPUBuffer },
  mode: ConvMode,
): GpuProgram {
  const kernel = 'synthesisConv';
  const { frames, width, height } = shape;
  requirePositiveIntegers(kernel, { frames, width, height });
  if (layer.op !== 'conv3' || layer.inC > 4 || layer.outC > 4) throw new NervError('BAD_ARGUMENT', `${kernel}: not a narrow 3x3 layer`);
  const pixels = frames * width * height;
  checkParams(ctx, kernel, layout, buffers.params);
  requireBufferFloats(kernel, 'input', buffers.input, pixels * 4);
  const tiles = convTiles(frames, width, height);
  const constants: Record<string, number> = { WIDTH: width, HEIGHT: height, FRAMES: frames, TILES_X: Math.ceil(width / CONV_TILE_X), TILES: tiles };
  let bound: GPUBuffer[];
  if (mode.kind === 'loss') {
    requireBufferFloats(kernel, 'targets', mode.targets, frames * targetFloatsPerFrame({ colour: mode.colour, width, height }));
    requireBufferFloats(kernel, 'grad', mode.grad, pixels * 4);
    requireBufferFloats(kernel, 'partial', mode.partial, tiles);
    const yuv = mode.colour === 'yuv420';
    const cw = Math.ceil(width / 2),
      ch = Math.ceil(height / 2);
    Object.assign(constants, {
      LUMA_WEIGHT: yuv ? 6 / 8 / pixels : 1 / (3 * pixels),
      CHROMA_WEIGHT: yuv ? 1 / 8 / (frames * cw * ch) : 0,
      FRAME_FLOATS: targetFloatsPerFrame({ colour: mode.colour, width, height }),
    });
    bound = [buffers.input, buffers.params, mode.targets, mode.grad, mode.partial];
  } else {
    requireBufferFloats(kernel, 'out', mode.out, pixels * (mode.kind === 'store' ? 4 : layer.outC));
    bound = [buffers.input, buffers.params, mode.out];
  }
  const grid = invocationGrid(ctx, tiles);
  constants.GRID_X = grid.gridX;
  const source = convForwardSource(layout, layer, mode.kind, mode.kind === 'loss' ? mode.colour : 'rgb');
  const pipeline = ctx.pipeline('synthesis_conv', { PARAM_VEC4S: layout.floats / 4, ...source }, 'main', constants);
  return ctx.dispatch(pipeline, bound, grid.workgroups);
}

/** stats[index] = the sum of a loss-mode conv's partial sums (in tile order). */
export function convLossTotal(
  ctx: GpuContext,
  shape: { frames: number; width: number; height: number },
  partial: GPUBuffer,
  stats: GPUBuffer,
  index: number,
): GpuProgram {
  const tiles = convTiles(shape.frames, shape.width, shape.height);
  requireBufferFloats('convLossTotal', 'partial', partial, tiles);
  requireBufferFloats('convLossTotal', 'stats', stats, index + 1);
  return reduceSum(ctx, partial, tiles, stats, index, 1);
}

/** Chunks (row pairs) and the record of a narrow conv's backward pass. */
export function convBackwardSource(layout: PackedParameters, layer: SynthesisLayerPlan, inputAct: LayerActivation) {
  const TX = CONV_TILE_X;
  const record = packedRange(layout, [layer.weight, layer.bias]);
  const { acc, declare, store } = gradientAccumulators();
  const compute: string[] = [];
  for (let a = 0; a < 2; a++) {
    for (let t = 0; t < TX; t++) {
      // dx at input pixel (y0 + a, x0 + t): the outputs (a + 1 - ky, t + 1 - kx) read it through tap (ky, kx).
      const dx: string[] = [];
      for (let i = 0; i < layer.inC; i++) {
        const terms: string[] = [];
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            for (let o = 0; o < layer.outC; o++) terms.push(`d${a - ky + 2}_${t - kx + 2}.${XYZW[o]} * ${paramRef(weightIndex(layout, layer, ky, kx, i, o))}`);
          }
        }
        const value = sumTerms(terms);
        // The input's sign is its pre-activation's (ReLU and leaky ReLU keep it): the slope follows from it.
        dx.push(activationSlope(inputAct, value, `x${a + 1}_${t + 1}.${XYZW[i]}`));
      }
      compute.push(`    if ((y0 + ${u(a)} < HEIGHT) & (x0 + ${u(t)} < WIDTH)) { dx[(frameRow + y0 + ${u(a)}) * WIDTH + x0 + ${u(t)}] = ${vecOf(dx)}; }`);
      // Weights: output pixel (a, t) (its dy is zero outside the image) times the inputs its taps read.
      for (let o = 0; o < layer.outC; o++) {
        const dy = `d${a + 1}_${t + 1}.${XYZW[o]}`;
        compute.push(`    ${acc(layout.offsets[layer.bias] + o)} += ${dy};`);
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            for (let i = 0; i < layer.inC; i++)
              compute.push(`    ${acc(weightIndex(layout, layer, ky, kx, i, o))} += x${a + ky}_${t + kx}.${XYZW[i]} * ${dy};`);
          }
        }
      }
    }
  }
  return {
    record,
    source: {
      ACCUMULATORS: declare(),
      LOAD: [...loadTile('dy', 'd', '    '), ...loadTile('input', 'x', '    ').filter((l) => !/let (yy|xx)/.test(l))].join('\n'),
      COMPUTE: compute.join('\n'),
      STORE: store(record),
      TILE_X: CONV_TILE_X,
    },
  };
}

/** Chunks of a narrow conv's backward pass: one per row pair of each frame. */
export const convBackwardChunks = (frames: number, height: number) => frames * Math.ceil(height / 2);

/**
 * Backward pass of one narrow 3x3 layer: dx [pixels] vec4s (through the activation that produced
 * the input, `inputAct`) and one gradient record per row pair at partial[partialBase + chunk * record.vec4s].
 */
export function synthesisConvBackward(
  ctx: GpuContext,
  layout: PackedParameters,
  layer: SynthesisLayerPlan,
  shape: { frames: number; width: number; height: number },
  inputAct: LayerActivation,
  buffers: { dy: GPUBuffer; input: GPUBuffer; params: GPUBuffer; dx: GPUBuffer; partial: GPUBuffer },
  partialBase: number,
): GpuProgram {
  const kernel = 'synthesisConvBackward';
  const { frames, width, height } = shape;
  requirePositiveIntegers(kernel, { frames, width, height });
  if (layer.op !== 'conv3' || layer.inC > 4 || layer.outC > 4) throw new NervError('BAD_ARGUMENT', `${kernel}: not a narrow 3x3 layer`);
  const pixels = frames * width * height;
  checkParams(ctx, kernel, layout, buffers.params);
  for (const name of ['dy', 'input', 'dx'] as const) requireBufferFloats(kernel, name, buffers[name], pixels * 4);
  if (buffers.dx === buffers.dy || buffers.dx === buffers.input) throw new NervError('BAD_ARGUMENT', `${kernel}: dx must not alias dy or the input`);
  const { record, source } = convBackwardSource(layout, layer, inputAct);
  const chunks = convBackwardChunks(frames, height);
  requireBufferFloats(kernel, 'partial', buffers.partial, (partialBase + chunks * record.vec4s) * 4);
  const grid = invocationGrid(ctx, chunks, 32);
  const pipeline = ctx.pipeline('synthesis_conv_backward', { PARAM_VEC4S: layout.floats / 4, ...source }, 'main', {
    WIDTH: width,
    HEIGHT: height,
    FRAMES: frames,
    TILES_X: divUp(width, CONV_TILE_X),
    CHUNKS: chunks,
    GRID_X: grid.gridX,
    PARTIAL_BASE: partialBase,
  });
  return ctx.dispatch(pipeline, [buffers.dy, buffers.input, buffers.params, buffers.dx, buffers.partial], grid.workgroups);
}

function headBackwardSource(layout: PackedParameters, geom: LatentGeometry, synth: FusedSynthesisPlan, frames: number) {
  const record = packedRange(
    layout,
    synth.head.flatMap((l) => [l.weight, l.bias]),
  );
  const accumulators = gradientAccumulators();
  const acc = accumulators.acc;
  const K = synth.head.length;
  const pixel: string[] = [];
  const ind = '    ';
  pixel.push(`${ind}let d = dHead[p];`);
  for (let q = 0; q < synth.featureVec4s; q++) pixel.push(`${ind}let fv${q} = features[p * ${u(synth.featureVec4s)} + ${u(q)}];`);
  for (let l = 0; l < synth.levels; l++) pixel.push(`${ind}let f${l} = fv${l >> 2}.${XYZW[l & 3]};`);
  const input = (k: number, i: number) => (k === 0 ? `f${i}` : `h${k - 1}_${i}`);
  synth.head.forEach((layer, k) => {
    if (k < K - 1) pixel.push(...denseLines(layout, layer, k, (i) => input(k, i), ind));
  });
  // dz{k}_o: gradient at layer k's pre-activation; the last layer's arrives masked in dHead.
  const dz = (k: number, o: number) => (k === K - 1 ? `d.${XYZW[o]}` : `dz${k}_${o}`);
  for (let k = K - 1; k >= 0; k--) {
    const layer = synth.head[k];
    const w = layout.offsets[layer.weight];
    for (let o = 0; o < layer.outC; o++) pixel.push(`${ind}${acc(layout.offsets[layer.bias] + o)} += ${dz(k, o)};`);
    for (let i = 0; i < layer.inC; i++) {
      for (let o = 0; o < layer.outC; o++) pixel.push(`${ind}${acc(w + i * layer.outC + o)} += ${input(k, i)} * ${dz(k, o)};`);
      const e = sumTerms(range(layer.outC).map((o) => `${paramRef(w + i * layer.outC + o)} * ${dz(k, o)}`));
      if (k === 0) pixel.push(`${ind}let e${i} = ${e};`);
      else pixel.push(`${ind}let dz${k - 1}_${i} = ${activationSlope(synth.head[k - 1].act, e, `z${k - 1}_${i}`)};`);
    }
  }
  // Along x, pixel x weighs latent column i0 = floor(g) by 1 - f and i0 + 1 by f (g = (x + 1/2) / s
  // - 1/2 clamped, f = g - i0); i0 grows by at most one per pixel for s >= 2, so two running sums
  // per level suffice. Stride-1 levels read their own latent: the pixel's value is the row sum.
  const rows = rowSumLayout(geom, frames);
  const declare: string[] = [];
  const stream: string[] = [];
  const finish: string[] = [];
  geom.levels.forEach((level, l) => {
    const at = (col: string) => `dRows[${u(rows.bases[l])} + row * ${u(level.width)} + ${col}]`;
    if (level.stride === 1) {
      stream.push(`    ${at('x')} = e${l};`);
      return;
    }
    declare.push(`  var col${l} = 0u; var a${l} = 0.0; var b${l} = 0.0;`);
    stream.push(
      `    {`,
      `      let g = clamp((f32(x) + 0.5) * ${f32Literal(1 / level.stride)} - 0.5, 0.0, ${f32Literal(level.width - 1)});`,
      `      let i0 = min(u32(g), ${u(level.width - 1)});`,
      `      let f = g - f32(i0);`,
      `      if (i0 != col${l}) { ${at(`col${l}`)} = a${l}; a${l} = b${l}; b${l} = 0.0; col${l} = i0; }`,
      `      a${l} += (1.0 - f) * e${l};`,
      `      b${l} += f * e${l};`,
      `    }`,
    );
    finish.push(`  ${at(`col${l}`)} = a${l};`, `  if (col${l} + 1u < ${u(level.width)}) { ${at(`col${l} + 1u`)} = b${l}; }`);
  });
  return {
    record,
    source: {
      ACCUMULATORS: accumulators.declare(),
      PIXEL: pixel.join('\n'),
      STREAM_DECLARE: declare.join('\n'),
      STREAM: stream.join('\n'),
      STREAM_FINISH: finish.join('\n'),
      STORE: accumulators.store(record),
    },
  };
}

/** The head's gradient record (its dense tensors' packed range) and chunks (image rows). */
export function headBackwardPlan(layout: PackedParameters, synth: FusedSynthesisPlan, frames: number, height: number) {
  return {
    ...packedRange(
      layout,
      synth.head.flatMap((l) => [l.weight, l.bias]),
    ),
    chunks: frames * height,
  };
}

/**
 * Backward pass of the head: from dHead (d loss / d the last dense layer's pre-activation, [pixels]
 * vec4s) and the stored features to d loss / d features summed along x into latent columns
 * (rowSumLayout, what latent_step reads) and one gradient record per image row at
 * partial[partialBase + row * record.vec4s].
 */
export function synthesisHeadBackward(
  ctx: GpuContext,
  layout: PackedParameters,
  geom: LatentGeometry,
  synth: FusedSynthesisPlan,
  frames: number,
  buffers: { dHead: GPUBuffer; features: GPUBuffer; params: GPUBuffer; dRows: GPUBuffer; partial: GPUBuffer },
  partialBase: number,
): GpuProgram {
  const kernel = 'synthesisHeadBackward';
  requirePositiveIntegers(kernel, { frames, width: geom.width, height: geom.height });
  const pixels = frames * geom.width * geom.height;
  checkParams(ctx, kernel, layout, buffers.params);
  requireBufferFloats(kernel, 'dHead', buffers.dHead, pixels * 4);
  requireBufferFloats(kernel, 'features', buffers.features, pixels * synth.featureVec4s * 4);
  if (synth.levels !== geom.levels.length)
    throw new NervError('BAD_ARGUMENT', `${kernel}: ${geom.levels.length} latent levels, the head takes ${synth.levels}`);
  requireBufferFloats(kernel, 'dRows', buffers.dRows, rowSumLayout(geom, frames).floats);
  const { record, source } = headBackwardSource(layout, geom, synth, frames);
  const chunks = frames * geom.height;
  requireBufferFloats(kernel, 'partial', buffers.partial, (partialBase + chunks * record.vec4s) * 4);
  const grid = invocationGrid(ctx, chunks, 32);
  const pipeline = ctx.pipeline('synthesis_head_backward', { PARAM_VEC4S: layout.floats / 4, ...source }, 'main', {
    WIDTH: geom.width,
    HEIGHT: geom.height,
    FRAMES: frames,
    GRID_X: grid.gridX,
    PARTIAL_BASE: partialBase,
  });
  return ctx.dispatch(pipeline, [buffers.dHead, buffers.features, buffers.params, buffers.dRows, buffers.partial], grid.workgroups);
}
