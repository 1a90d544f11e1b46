// Node edge. Classical anchors for `nervkit demo` and the rate-distortion bench: ffmpeg's libx264 /
// libx265 at a given CRF, with the raw elementary stream (`-f h264` / `-f hevc`, no container) as the
// byte count, and a CRF search that matches a target byte count or PSNR.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NervError } from '../errors.ts';
import { measureVideo } from './measure.ts';
import { run } from './process.ts';

export interface AnchorCodec {
  /** Key used on the command line and in JSON: x264-medium, x264-veryslow, x265-medium. */
  id: string;
  label: string;
  encoder: 'libx264' | 'libx265';
  preset: string;
  /** ffmpeg muxer of the raw elementary stream. */
  format: 'h264' | 'hevc';
  extraArgs: string[];
  /** NAL unit types of SEI messages, removed from the stream unless asked to keep them (see encodeAnchor). */
  seiTypes: string;
}

export const ANCHOR_CODECS: AnchorCodec[] = [
  { id: 'x264-medium', label: 'x264 medium', encoder: 'libx264', preset: 'medium', format: 'h264', extraArgs: [], seiTypes: '6' },
  { id: 'x264-veryslow', label: 'x264 veryslow', encoder: 'libx264', preset: 'veryslow', format: 'h264', extraArgs: [], seiTypes: '6' },
  {
    id: 'x265-medium',
    label: 'x265 medium',
    encoder: 'libx265',
    preset: 'medium',
    format: 'hevc',
    extraArgs: ['-x265-params', 'log-level=error'],
    seiTypes: '39|40',
  },
];

/** CRF range shared by x264 and x265 for 8-bit video. */
export const CRF_MIN = 0;
export const CRF_MAX = 51;

/** Throws a clear error unless this ffmpeg has every encoder the chosen anchors need. */
export async function checkEncoders(ffmpeg: string, codecs: AnchorCodec[]): Promise<string> {
  let listing: string;
  try {
    listing = (await run(ffmpeg, ['-hide_banner', '-encoders'])).stdout;
  } catch (error) {
    throw new NervError(
      'NO_FFMPEG',
      `ffmpeg ('${ffmpeg}') could not be run: ${(error as Error).message}. Install it (apt-get install ffmpeg) or pass --ffmpeg PATH.`,
      { cause: error },
    );
  }
  const missing = [...new Set(codecs.map((c) => c.encoder))].filter((name) => !new RegExp(`^\\s*V\\S*\\s+${name}\\s`, 'm').test(listing));
  if (missing.length) {
    throw new NervError(
      'NO_FFMPEG',
      `ffmpeg ('${ffmpeg}') lacks the encoder(s) ${missing.join(', ')} that the anchors need; install an ffmpeg built with them (Debian's ffmpeg has both).`,
    );
  }
  const filters = (await run(ffmpeg, ['-hide_banner', '-bsfs'])).stdout;
  if (!/^filter_units$/m.test(filters))
    throw new NervError('NO_FFMPEG', `ffmpeg ('${ffmpeg}') lacks the filter_units bitstream filter (pass --keep-sei to count SEI bytes instead)`);
  const version = (await run(ffmpeg, ['-hide_banner', '-version'])).stdout.split('\n')[0] ?? '';
  return version.trim();
}

export interface AnchorEncode {
  crf: number;
  path: string;
  bytes: number;
  seconds: number;
}

/**
 * Encodes `source` (Y4M) at one CRF into `path` (a raw .h264/.hevc stream). Unless `keepSei`, SEI NAL
 * units are dropped (ffmpeg's filter_units bitstream filter): with default settings x264 and x265 write
 * only their build and options string there (about 0.7 KB and 2.3 KB per stream), which decoders
 * ignore and which would dominate the byte count of a short, small clip.
 */
export async function encodeAnchor(ffmpeg: string, codec: AnchorCodec, source: string, crf: number, path: string, keepSei = false): Promise<AnchorEncode> {
  const args = [
    '-v',
    'error',
    '-y',
    '-i',
    source,
    '-c:v',
    codec.encoder,
    '-preset',
    codec.preset,
    '-crf',
    crf.toFixed(2),
    '-pix_fmt',
    'yuv420p',
    ...codec.extraArgs,
    ...(keepSei ? [] : ['-bsf:v', `filter_units=remove_types=${codec.seiTypes}`]),
    '-f',
    codec.format,
    path,
  ];
  const { seconds } = await run(ffmpeg, args);
  return { crf, path, bytes: (await stat(path)).size, seconds };
}

/** Decodes a raw stream to Y4M 4:2:0, one output frame per coded frame (no frame-rate resampling). */
export async function decodeAnchor(ffmpeg: string, codec: AnchorCodec, stream: string, y4m: string): Promise<void> {
  await run(ffmpeg, ['-v', 'error', '-y', '-f', codec.format, '-i', stream, '-fps_mode', 'passthrough', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', y4m]);
}

export interface CrfSearchOptions {
  /** Accepted |value - target|. */
  tolerance: number;
  /** New probes allowed for this target (cached ones are free). */
  maxProbes: number;
  /** Rough change of the value per +1 CRF (negative), for the first steps before a bracket exists. */
  slope: number;
}

export interface CrfSearchResult<T> {
  best: T;
  /** value(best) - target. */
  error: number;
  /** Whether |error| <= tolerance. */
  matched: boolean;
  /** Why it did not match (target outside what CRF 0..51 reaches, or values that do not get closer). */
  note?: string;
  /** Probes run for this target. */
  probes: number;
  searchSeconds: number;
}

/**
 * Finds a CRF whose `valueOf` (a quantity that falls as CRF rises: ln(bytes), PSNR) is within
 * `tolerance` of `target`: regula falsi, with bisection whenever an interpolated step would not shrink
 * the bracket enough, on CRFs with 2 decimals. `probeAt` should cache (targets share their probes);
 * `known` are the probes already made, which seed the bracket.
 */
export async function searchCrf<T extends { crf: number }>(
  target: number,
  probeAt: (crf: number) => Promise<T>,
  valueOf: (probe: T) => number,
  known: T[],
  options: CrfSearchOptions,
): Promise<CrfSearchResult<T>> {
  const started = performance.now();
  const key = (crf: number) => crf.toFixed(2);
  const tried = new Map<string, T>(known.map((p) => [key(p.crf), p]));
  const error = (p: T) => valueOf(p) - target; // > 0: value too high, raise CRF
  let probes = 0;
  const probe = async (crf: number) => {
    const result = await probeAt(crf);
    tried.set(key(crf), result);
    probes++;
  };
  const closest = () => [...tried.values()].reduce((a, b) => (Math.abs(error(b)) < Math.abs(error(a)) ? b : a));
  const done = (note?: string): CrfSearchResult<T> => {
    const best = closest();
    const matched = Math.abs(error(best)) <= options.tolerance;
    return { best, error: error(best), matched, note: matched ? undefined : note, probes, searchSeconds: (performance.now() - started) / 1000 };
  };
  if (tried.size === 0) await probe(26);
  let lastWidth = Infinity;
  while (true) {
    if (Math.abs(error(closest())) <= options.tolerance) return done();
    if (probes >= options.maxProbes) return done(`not within tolerance after ${probes} probes`);
    const points = [...tried.values()];
    const high = points.filter((p) => error(p) > 0).sort((a, b) => b.crf - a.crf)[0];
    const low = points.filter((p) => error(p) < 0).sort((a, b) => a.crf - b.crf)[0];
    let next: number;
    if (high && low && low.crf > high.crf) {
      const width = low.crf - high.crf;
      if (width <= 0.011) return done('the value jumps across the target between adjacent CRFs (0.01 apart)');
      const eh = error(high);
      const el = error(low);
      next = high.crf + (width * eh) / (eh - el);
      // Bisect when interpolation hugs an end or the bracket did not halve last time.
      const margin = 0.1 * width;
      if (width > lastWidth / 2 || next < high.crf + margin || next > low.crf - margin) next = (high.crf + low.crf) / 2;
      lastWidth = width;
    } else if (high && (!low || low.crf <= high.crf)) {
      if (high.crf >= CRF_MAX) return done(`even CRF ${CRF_MAX} stays above the target (${valueOf(high).toFixed(3)})`);
      next = high.crf + Math.max(0.5, error(high) / -options.slope);
    } else {
      if (low.crf <= CRF_MIN) return done(`even CRF ${CRF_MIN} stays below the target (${valueOf(low).toFixed(3)})`);
      next = low.crf - Math.max(0.5, -error(low) / -options.slope);
    }
    const rounded = Math.min(CRF_MAX, Math.max(CRF_MIN, Math.round(next * 100) / 100));
    if (tried.has(key(rounded))) return done('the search came back to a CRF it had tried');
    await probe(rounded);
  }
}

export interface AnchorMatch {
  crf: number;
  /** Raw H.264 stream bytes (SEI options strings dropped, as in the RD bench). */
  bytes: number;
  /** Mean PSNR of the chosen metric, measured as `nervkit eval` does. */
  psnr: number;
  /** Whether the PSNR landed within 0.05 dB of the target. */
  matched: boolean;
}

/**
 * What x264 (preset medium) needs for `psnr` dB (YUV 6:1:1 or RGB) on the first `frames` frames of
 * `sourceY4m`: a CRF search whose encodes and decodes go to `workDir`.
 */
export async function x264BytesAtPsnr(
  ffmpeg: string,
  sourceY4m: string,
  psnr: number,
  frames: number,
  workDir: string,
  metric: 'rgb' | 'yuv' = 'yuv',
): Promise<AnchorMatch> {
  const codec = ANCHOR_CODECS.find((c) => c.id === 'x264-medium')!;
  await checkEncoders(ffmpeg, [codec]);
  const decoded = join(workDir, 'decoded.y4m');
  const probe = async (crf: number) => {
    const encoded = await encodeAnchor(ffmpeg, codec, sourceY4m, crf, join(workDir, `crf${crf.toFixed(2)}.${codec.format}`));
    await decodeAnchor(ffmpeg, codec, encoded.path, decoded);
    const quality = await measureVideo(decoded, sourceY4m, frames);
    return { ...encoded, psnr: metric === 'yuv' ? quality.psnrYuv : quality.psnr };
  };
  const search = await searchCrf(psnr, probe, (p) => p.psnr, [], { tolerance: 0.05, maxProbes: 12, slope: -0.6 });
  return { crf: search.best.crf, bytes: search.best.bytes, psnr: search.best.psnr, matched: search.matched };
}
