/**
 * The model description in a .nerv header, in binary (docs/format.md, "Model"): a few dozen bytes,
 * where JSON took a kilobyte, which at low rates is a large share of a short clip. The network
 * tensors' names and sizes are not stored: they follow from the description (src/nn/model.ts).
 */
import { ByteReader, ByteWriter } from '../entropy/bytes.ts';
import { NervFormatError } from '../errors.ts';
import { TAP_SOURCES, validateModel, type ContextTap, type ModelDescription, type SynthesisLayer } from '../nn/model.ts';

const KIND_LATENT_PYRAMID = 1;
const COLOURS = ['yuv420', 'rgb'] as const;
const OPS = ['dense', 'conv3'] as const;
const ACTIVATIONS = ['none', 'relu', 'leaky'] as const;
const SCHEDULES = ['checkerboard', 'raster'] as const;
const MAX_PROFILE_BYTES = 32;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeModel(model: ModelDescription, out: ByteWriter): void {
  const profile = utf8Encoder.encode(model.profile).subarray(0, MAX_PROFILE_BYTES);
  out.u8(KIND_LATENT_PYRAMID);
  out.u8(profile.length);
  out.bytes(profile);
  out.u8(COLOURS.indexOf(model.colour));
  out.u8(model.levels);
  out.u8(model.firstStride);
  out.u8(model.synthesis.length);
  for (const layer of model.synthesis) {
    out.u8(OPS.indexOf(layer.op));
    out.u8(layer.out);
    out.u8(ACTIVATIONS.indexOf(layer.act));
  }
  out.u8(model.arm.hidden.length);
  for (const width of model.arm.hidden) out.u8(width);
  out.u8(SCHEDULES.indexOf(model.arm.schedule));
  out.u8(model.arm.taps.length);
  for (const tap of model.arm.taps) {
    out.u8(TAP_SOURCES.indexOf(tap.from));
    out.u8(tap.dy & 0xff);
    out.u8(tap.dx & 0xff);
  }
}

/** Reads and validates a model description; frame size and group size come from the header. */
export function decodeModel(r: ByteReader, frame: { width: number; height: number; groupSize: number }): ModelDescription {
  const start = r.pos;
  const pick = <T>(list: readonly T[], what: string): T => {
    const at = r.pos;
    const code = r.u8(what);
    if (code >= list.length) r.fail(`unknown ${what} code ${code}`, at);
    return list[code];
  };
  const signed = (what: string) => (r.u8(what) << 24) >> 24;
  const kind = r.u8('model kind');
  if (kind !== KIND_LATENT_PYRAMID) r.fail(`unknown model kind ${kind}`, start);
  const profileAt = r.pos;
  const profileLength = r.u8('profile name length');
  if (profileLength > MAX_PROFILE_BYTES) r.fail(`profile name of ${profileLength} bytes exceeds ${MAX_PROFILE_BYTES}`, profileAt);
  let profile = '';
  try {
    profile = utf8Decoder.decode(r.take(profileLength, 'profile name'));
  } catch (error) {
    if (error instanceof NervFormatError) throw error;
    r.fail('profile name is not valid UTF-8', profileAt);
  }
  const colour = pick(COLOURS, 'colour format');
  const levels = r.u8('latent levels');
  const firstStride = r.u8('first stride');
  const synthesis: SynthesisLayer[] = [];
  const layers = r.u8('synthesis layer count');
  for (let i = 0; i < layers; i++) synthesis.push({ op: pick(OPS, 'layer op'), out: r.u8('layer width'), act: pick(ACTIVATIONS, 'activation') });
  const hidden: number[] = [];
  const hiddenCount = r.u8('context model layer count');
  for (let i = 0; i < hiddenCount; i++) hidden.push(r.u8('context model width'));
  const schedule = pick(SCHEDULES, 'context schedule');
  const taps: ContextTap[] = [];
  const tapCount = r.u8('context tap count');
  for (let i = 0; i < tapCount; i++) taps.push({ from: pick(TAP_SOURCES, 'tap source'), dy: signed('tap dy'), dx: signed('tap dx') });
  // validateModel bounds every count and width before anything is sized from them.
  return validateModel({ kind: 'latent-pyramid', profile, ...frame, colour, levels, firstStride, synthesis, arm: { hidden, taps, schedule } }, frame);
}
