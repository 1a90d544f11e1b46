/**
 * Rate-distortion bench: nervkit against x264 (medium, veryslow) and x265 (medium) at matched real bytes.
 *
 *   npx tsx bench/rd.ts                 # the built-in sample, 4 nervkit points
 *   NERVKIT_CLIPS=DIR npx tsx bench/rd.ts   # vtest 320x192x32 and box 160x120x16 from DIR (the README's tables)
 *   npx tsx bench/rd.ts --quick         # 8 frames at 96x64, few training steps: a smoke test
 *   npx tsx bench/rd.ts --no-nervkit    # anchors only, at --anchor-crfs (or matched to --target-bpp)
 *   npx tsx bench/rd.ts --help
 *
 * Per clip: the source is cut and scaled once to a 4:2:0 Y4M (ffmpeg) under bench/out/rd/. nervkit
 * encodes it through its CLI (`nervkit encode --json`) at each rate point, and `nervkit eval --json`
 * measures the file. Each anchor then searches the CRF (fractional, regula falsi / bisection) whose
 * raw elementary stream (`-f h264` / `-f hevc`, no container, SEI options strings dropped) has the
 * same bytes as the nervkit file within --tolerance, decodes it to Y4M with ffmpeg, and is measured
 * with nervkit's own metrics (src/anchors/measure.ts, the same computation as `nervkit eval`) against
 * the same source Y4M. bpp = real file bytes x 8 / (width x height x frames) for everybody.
 * Each anchor also gets one point per nervkit point at the same RGB PSNR: when nervkit is far from
 * the anchors, equal-byte points alone share no PSNR range with nervkit and BD-rate would not exist.
 *
 * Prints a table and the BD-rate (RGB PSNR) of nervkit against each anchor (negative: nervkit needs
 * fewer bits), writes bench/results/rd[-TAG].json and an SVG plot per clip. Timings are recorded,
 * never checked. Exits non-zero if ffmpeg lacks libx264/libx265 or a nervkit command fails.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliDecompressSync } from 'node:zlib';
import { SAMPLE, SAMPLE_PATH } from '../src/cli/sample.ts';
import { bdPsnr, bdRate, type BdResult } from '../src/metrics/bd_rate.ts';
import { ANCHOR_CODECS, checkEncoders, decodeAnchor, encodeAnchor, searchCrf, type AnchorCodec, type AnchorEncode } from '../src/anchors/x264.ts';
import { measureVideo, type Quality } from '../src/anchors/measure.ts';
import { run, CommandError } from '../src/anchors/process.ts';
import { rdPlotSvg, type PlotReference } from './lib/rd_svg.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface ClipSpec {
  name: string;
  path: string;
  frames: number;
  width: number;
  height: number;
  /** Published or measured points drawn on the plot when the clip has the size and length they were measured at. */
  references?: (PlotReference & { width: number; height: number; frames: number })[];
}

/**
 * OpenCV's sample clips vtest.avi and box.mp4 (the README's tables) live in the folder $NERVKIT_CLIPS
 * names; without it the presets fall back to the built-in sample. Any other clip: --clip NAME=PATH.
 */
const CLIPS_DIR = process.env.NERVKIT_CLIPS;

const CLIP_PRESETS: Record<string, ClipSpec> = {
  sample: { name: 'sample', path: SAMPLE_PATH, frames: SAMPLE.frames, width: SAMPLE.width, height: SAMPLE.height },
  vtest: {
    name: 'vtest', path: join(CLIPS_DIR ?? '$NERVKIT_CLIPS', 'vtest.avi'), frames: 32, width: 320, height: 192,
    // docs/architecture.md: official HNeRV code (PyTorch) on a 2-core CPU, 150 epochs, 18 min.
    references: [{ label: 'HNeRV (measured)', bpp: 1.19, psnr: 32.0, width: 320, height: 192, frames: 32 }],
  },
  box: { name: 'box', path: join(CLIPS_DIR ?? '$NERVKIT_CLIPS', 'box.mp4'), frames: 16, width: 160, height: 120 },
};
const DEFAULT_CLIPS = CLIPS_DIR ? ['vtest', 'box'] : ['sample'];

const HELP = `usage: npx tsx bench/rd.ts [options]
  --quick                 8 frames at 96x64, --steps 150 (unless given); results tagged "quick"
  --clips LIST            preset clips: ${Object.keys(CLIP_PRESETS).join(', ')} (default vtest,box when $NERVKIT_CLIPS
                          names the folder holding OpenCV's vtest.avi and box.mp4, else sample: the built-in one)
  --clip NAME=PATH        add a clip (repeatable); uses --frames/--size or 32 frames at 320x192
  --frames N              frames per clip (overrides the presets)
  --size WxH              frame size (overrides the presets)
  --quant-loss LIST       nervkit rate points: --quant-loss values in dB (default 0.02,0.1,0.5,3)
  --steps LIST            nervkit --steps, one value or one per point (default 1500)
  --nervkit-args "ARGS"   extra arguments for every nervkit encode (e.g. "--group 16")
  --nervkit-bin PATH      the nervkit CLI script run with node (default bin/nervkit.js of this checkout)
  --codecs LIST           anchors (default ${ANCHOR_CODECS.map((c) => c.id).join(',')})
  --no-match-psnr         match the anchors to nervkit's bytes only (default: to its bytes, and to its PSNR and
                          0.5 dB below/above its range, so that the anchor curves cover nervkit's PSNR range
                          and BD-rate exists)
  --psnr-tolerance DB     PSNR match tolerance (default 0.05)
  --no-nervkit            anchors only: at --target-bpp / --target-psnr values if given, else at --anchor-crfs
  --target-bpp LIST       with --no-nervkit: match the anchors to these bpp (tests the CRF search)
  --target-psnr LIST      with --no-nervkit: match the anchors to these RGB PSNRs
  --anchor-crfs LIST      with --no-nervkit: fixed CRFs (default 18,23,28,33,38)
  --keep-sei              count the anchors' SEI messages (x264/x265 options strings; dropped by default)
  --tolerance F           byte match tolerance (default 0.02 = 2%)
  --max-encodes N         CRF search encodes per target (default 10)
  --tag NAME              results go to rd-NAME.json / rd-NAME-<clip>.svg (default: none, "quick", or "anchors")
  --ffmpeg PATH           ffmpeg to use (default: $NERVKIT_FFMPEG or ffmpeg)
  --work DIR              scratch directory (default bench/out/rd)
  --results DIR           results directory (default bench/results)`;

function parseList(value: string | undefined, what: string): number[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n))) throw new Error(`--${what}: expected comma-separated numbers, got '${value}'`);
  return list;
}

function parseSize(value: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (!m) throw new Error(`--size: expected WxH, got '${value}'`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      clips: { type: 'string' },
      clip: { type: 'string', multiple: true },
      frames: { type: 'string' },
      size: { type: 'string' },
      'quant-loss': { type: 'string' },
      steps: { type: 'string' },
      'nervkit-args': { type: 'string' },
      'nervkit-bin': { type: 'string' },
      codecs: { type: 'string' },
      'no-nervkit': { type: 'boolean' },
      'target-bpp': { type: 'string' },
      'target-psnr': { type: 'string' },
      'no-match-psnr': { type: 'boolean' },
      'psnr-tolerance': { type: 'string' },
      'anchor-crfs': { type: 'string' },
      'keep-sei': { type: 'boolean' },
      tolerance: { type: 'string' },
      'max-encodes': { type: 'string' },
      tag: { type: 'string' },
      ffmpeg: { type: 'string' },
      work: { type: 'string' },
      results: { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const frames = values.frames !== undefined ? Number(values.frames) : quick ? 8 : undefined;
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 1)) throw new Error(`--frames: expected a whole number >= 1`);
  const size = values.size !== undefined ? parseSize(values.size) : quick ? { width: 96, height: 64 } : undefined;
  const clips: ClipSpec[] = [];
  const presetNames = values.clips !== undefined ? values.clips.split(',').filter(Boolean) : values.clip ? [] : DEFAULT_CLIPS;
  for (const name of presetNames) {
    const preset = CLIP_PRESETS[name];
    if (!preset) throw new Error(`--clips: unknown clip '${name}' (known: ${Object.keys(CLIP_PRESETS).join(', ')}; add others with --clip NAME=PATH)`);
    clips.push({ ...preset, frames: frames ?? preset.frames, ...(size ?? {}) });
  }
  for (const spec of values.clip ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`--clip: expected NAME=PATH, got '${spec}'`);
    const name = spec.slice(0, eq);
    if (!/^[\w.-]+$/.test(name)) throw new Error(`--clip: the name '${name}' may hold letters, digits, '.', '_' and '-' only`);
    clips.push({ name, path: spec.slice(eq + 1), frames: frames ?? 32, width: size?.width ?? 320, height: size?.height ?? 192 });
  }
  const quantLoss = parseList(values['quant-loss'], 'quant-loss') ?? [0.02, 0.1, 0.5, 3];
  const stepsList = parseList(values.steps, 'steps') ?? [quick ? 150 : 1500];
  if (stepsList.length !== 1 && stepsList.length !== quantLoss.length) {
    throw new Error(`--steps: give one value or ${quantLoss.length} (one per --quant-loss point), got ${stepsList.length}`);
  }
  const codecIds = (values.codecs ?? ANCHOR_CODECS.map((c) => c.id).join(',')).split(',').filter(Boolean);
  const codecs = codecIds.map((id) => {
    const codec = ANCHOR_CODECS.find((c) => c.id === id);
    if (!codec) throw new Error(`--codecs: unknown anchor '${id}' (known: ${ANCHOR_CODECS.map((c) => c.id).join(', ')})`);
    return codec;
  });
  const nervkit = !values['no-nervkit'];
  const tolerance = values.tolerance !== undefined ? Number(values.tolerance) : 0.02;
  const maxEncodes = values['max-encodes'] !== undefined ? Number(values['max-encodes']) : 10;
  const psnrTolerance = values['psnr-tolerance'] !== undefined ? Number(values['psnr-tolerance']) : 0.05;
  if (!(psnrTolerance > 0)) throw new Error('--psnr-tolerance: expected a number of dB > 0');
  if (!(tolerance > 0 && tolerance < 1)) throw new Error('--tolerance: expected a fraction between 0 and 1, e.g. 0.02');
  if (!Number.isInteger(maxEncodes) || maxEncodes < 1) throw new Error('--max-encodes: expected a whole number >= 1');
  return {
    quick,
    clips,
    points: quantLoss.map((q, i) => ({ quantLoss: q, steps: stepsList.length === 1 ? stepsList[0] : stepsList[i] })),
    nervkitArgs: (values['nervkit-args'] ?? '').split(/\s+/).filter(Boolean),
    nervkitBin: resolve(values['nervkit-bin'] ?? join(ROOT, 'bin/nervkit.js')),
    codecs,
    nervkit,
    targetBpp: parseList(values['target-bpp'], 'target-bpp'),
    targetPsnr: parseList(values['target-psnr'], 'target-psnr'),
    matchPsnr: !values['no-match-psnr'],
    psnrTolerance,
    anchorCrfs: parseList(values['anchor-crfs'], 'anchor-crfs') ?? [18, 23, 28, 33, 38],
    tolerance,
    maxEncodes,
    keepSei: values['keep-sei'] ?? false,
    tag: values.tag ?? (quick ? 'quick' : nervkit ? '' : 'anchors'),
    ffmpeg: values.ffmpeg ?? process.env.NERVKIT_FFMPEG ?? 'ffmpeg',
    work: resolve(values.work ?? join(ROOT, 'bench/out/rd')),
    results: resolve(values.results ?? join(ROOT, 'bench/results')),
  };
}

type Options = ReturnType<typeof parseOptions>;

interface PointResult extends Quality {
  codec: string;
  label: string;
  /** Index of the nervkit point matched (or of the --anchor-crfs / --target-* value); 'below' / 'above': the PSNR brackets. */
  point: number | 'below' | 'above';
  /** nervkit: its arguments; anchors: the CRF. */
  setting: string;
  crf?: number;
  bytes: number;
  bpp: number;
  encodeSeconds: number;
  /** nervkit: the encoder's own timing (after start-up and GPU set-up). */
  encoderSeconds?: number;
  /** nervkit: PSNR the encoder printed (should equal the evaluated one: closed loop). */
  encoderPsnr?: number;
  /** Anchors matched to a nervkit point: what was matched, the target (bytes or dB), the miss (relative for bytes, dB for PSNR), the search cost. */
  match?: 'bytes' | 'psnr';
  target?: number;
  matchError?: number;
  matched?: boolean;
  note?: string;
  searchProbes?: number;
  searchSeconds?: number;
}

interface BdRow {
  test: string;
  anchor: string;
  bdRatePercent: number;
  bdPsnrDb: number;
  reason?: string;
}

async function prepareSource(clip: ClipSpec, options: Options, dir: string): Promise<string> {
  const path = join(dir, 'source.y4m');
  const exists = await stat(path).then((s) => s.size > 0, () => false);
  if (!exists) {
    await stat(clip.path).catch(() => {
      const hint = clip.path.startsWith('$NERVKIT_CLIPS') ? " (set NERVKIT_CLIPS to the folder holding OpenCV's vtest.avi and box.mp4)" : '';
      throw new Error(`clip '${clip.name}': ${clip.path} does not exist${hint}`);
    });
    // ffmpeg cannot read the brotli-packed sample: unpack it first.
    const input = clip.path.endsWith('.br') ? join(dir, 'input.y4m') : clip.path;
    if (input !== clip.path) await writeFile(input, brotliDecompressSync(await readFile(clip.path)));
    await run(options.ffmpeg, [
      '-v', 'error', '-y', '-i', input, '-frames:v', String(clip.frames),
      '-vf', `scale=${clip.width}:${clip.height}`, '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', path,
    ]);
  }
  return path;
}

async function nervkitJson(bin: string, args: string[]): Promise<{ json: Record<string, unknown>; seconds: number }> {
  let result;
  try {
    result = await run(process.execPath, [bin, ...args]);
  } catch (error) {
    if (error instanceof CommandError) {
      throw new Error(`nervkit ${args[0]} failed (exit ${error.exitCode}):\n  ${error.stderr.trim().split('\n').slice(-6).join('\n  ')}\n(run anchors alone with --no-nervkit)`);
    }
    throw error;
  }
  try {
    return { json: JSON.parse(result.stdout) as Record<string, unknown>, seconds: result.seconds };
  } catch {
    throw new Error(`nervkit ${args[0]} --json printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
}

async function runNervkit(clip: ClipSpec, options: Options, source: string, dir: string): Promise<PointResult[]> {
  const results: PointResult[] = [];
  const pixels = clip.width * clip.height * clip.frames;
  for (const [i, point] of options.points.entries()) {
    const file = join(dir, `nervkit-${i}.nerv`);
    const settings = ['--quant-loss', String(point.quantLoss), '--steps', String(point.steps), ...options.nervkitArgs];
    log(`  nervkit point ${i}: ${settings.join(' ')}`);
    const encoded = await nervkitJson(options.nervkitBin, [
      'encode', '-i', source, '-o', file, '--frames', String(clip.frames), '--scale', `${clip.width}x${clip.height}`, ...settings, '--json',
    ]);
    const bytes = (await stat(file)).size;
    const evaluated = await nervkitJson(options.nervkitBin, ['eval', '-i', file, '--ref', source, '--json']);
    const e = evaluated.json as { frames: number; psnr: number; psnrYuv: number; msSsim: number };
    results.push({
      codec: 'nervkit', label: 'nervkit', point: i, setting: settings.join(' '), bytes, bpp: (bytes * 8) / pixels,
      frames: e.frames, psnr: e.psnr, psnrYuv: e.psnrYuv, msSsim: e.msSsim,
      encodeSeconds: encoded.seconds, encoderSeconds: encoded.json.seconds as number, encoderPsnr: encoded.json.psnr as number,
    });
    log(`    ${bytes} bytes, ${fmt(results[i].bpp, 4)} bpp, ${fmt(e.psnr, 2)} dB, ${fmt(encoded.seconds, 1)} s`);
  }
  return results;
}

interface AnchorTargets {
  /** Stream sizes to match (the nervkit files' bytes). */
  bytes?: number[];
  /** RGB PSNRs to match (the nervkit files' quality), so that the anchor curve covers nervkit's PSNR range too. */
  psnr?: number[];
}

async function runAnchor(codec: AnchorCodec, clip: ClipSpec, options: Options, source: string, dir: string, targets: AnchorTargets | undefined): Promise<PointResult[]> {
  const pixels = clip.width * clip.height * clip.frames;
  const key = (crf: number) => crf.toFixed(2);
  const encodes = new Map<string, AnchorEncode>();
  const qualities = new Map<string, Quality>();
  const encodeAt = async (crf: number) => {
    let encode = encodes.get(key(crf));
    if (!encode) {
      encode = await encodeAnchor(options.ffmpeg, codec, source, crf, join(dir, `${codec.id}-crf${key(crf)}.${codec.format}`), options.keepSei);
      encodes.set(key(crf), encode);
    }
    return encode;
  };
  const measureAt = async (crf: number): Promise<AnchorEncode & { quality: Quality }> => {
    const encode = await encodeAt(crf);
    let quality = qualities.get(key(crf));
    if (!quality) {
      const y4m = join(dir, `${codec.id}-decoded.y4m`);
      await decodeAnchor(options.ffmpeg, codec, encode.path, y4m);
      quality = await measureVideo(y4m, source, clip.frames);
      qualities.set(key(crf), quality);
    }
    return { ...encode, quality };
  };
  const row = (point: number, probe: AnchorEncode & { quality: Quality }): PointResult => ({
    codec: codec.id, label: codec.label, point, setting: `crf ${key(probe.crf)}`, crf: probe.crf,
    bytes: probe.bytes, bpp: (probe.bytes * 8) / pixels, ...probe.quality, encodeSeconds: probe.seconds,
  });
  const results: PointResult[] = [];
  for (const [i, target] of (targets?.bytes ?? []).entries()) {
    const search = await searchCrf(Math.log(target), encodeAt, (e) => Math.log(e.bytes), [...encodes.values()], {
      tolerance: Math.log1p(options.tolerance), maxProbes: options.maxEncodes, slope: -Math.LN2 / 6, // bytes halve every ~6 CRF
    });
    const r: PointResult = {
      ...row(i, await measureAt(search.best.crf)), match: 'bytes', target, matchError: Math.expm1(search.error), matched: search.matched,
      note: search.note, searchProbes: search.probes, searchSeconds: search.searchSeconds,
    };
    results.push(r);
    log(`  ${codec.label} point ${i} (bytes): crf ${key(r.crf!)}, ${r.bytes} bytes (${pct(r.matchError!)} vs ${target}, ${search.probes} encodes), ${fmt(r.psnr, 2)} dB${r.note ? `  [${r.note}]` : ''}`);
  }
  for (const [i, target] of (targets?.psnr ?? []).entries()) {
    const search = await searchCrf(target, measureAt, (p) => p.quality.psnr, [...qualities.keys()].map((k) => ({ ...encodes.get(k)!, quality: qualities.get(k)! })), {
      tolerance: options.psnrTolerance, maxProbes: options.maxEncodes, slope: -0.6, // about 0.6 dB per CRF step
    });
    const r: PointResult = {
      ...row(i, search.best), point: i < (targets?.bytes?.length ?? Infinity) ? i : i === targets!.psnr!.length - 2 ? 'below' : 'above', match: 'psnr', target, matchError: search.error, matched: search.matched,
      note: search.note, searchProbes: search.probes, searchSeconds: search.searchSeconds,
    };
    results.push(r);
    log(`  ${codec.label} point ${r.point} (PSNR): crf ${key(r.crf!)}, ${fmt(r.psnr, 2)} dB (${fmt(r.matchError, 3)} dB vs ${fmt(target, 2)}, ${search.probes} encodes), ${r.bytes} bytes${r.note ? `  [${r.note}]` : ''}`);
  }
  if (!targets) {
    for (const [i, crf] of options.anchorCrfs.entries()) {
      results.push(row(i, await measureAt(crf)));
      log(`  ${codec.label} crf ${crf}: ${results[i].bytes} bytes, ${fmt(results[i].psnr, 2)} dB`);
    }
  }
  return results;
}

/**
 * A lossless point (x264 at CRF 0, or identical frames) has every frame's PSNR capped at 100 dB: it is
 * not on the rate-distortion curve, and a cubic through it would wreck the BD fit, so fits and plots skip it.
 */
function isLossless(p: PointResult): boolean {
  return p.psnr >= 99.99;
}

function bdRows(points: PointResult[], codecs: AnchorCodec[], nervkit: boolean): BdRow[] {
  // One point per distinct encode: a bytes match and a PSNR match may land on the same CRF.
  const curve = (id: string) => {
    const seen = new Set<string>();
    return points
      .filter((p) => p.codec === id && !isLossless(p) && !seen.has(p.setting) && seen.add(p.setting))
      .map((p) => ({ rate: p.bpp, psnr: p.psnr }));
  };
  const rows: BdRow[] = [];
  const add = (test: string, anchor: string) => {
    const rate: BdResult = bdRate(curve(anchor), curve(test));
    const psnr: BdResult = bdPsnr(curve(anchor), curve(test));
    rows.push({ test, anchor, bdRatePercent: rate.value, bdPsnrDb: psnr.value, reason: rate.reason ?? psnr.reason });
  };
  if (nervkit) for (const c of codecs) add('nervkit', c.id);
  // The anchors against x264 medium: a sanity check of the anchors and of the BD computation.
  const base = codecs.find((c) => c.id === 'x264-medium');
  if (base) for (const c of codecs) if (c !== base) add(c.id, base.id);
  return rows;
}

function fmt(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function pct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function table(points: PointResult[]): string {
  const header = ['codec', 'pt', 'setting', 'bytes', 'bpp', 'PSNR', 'PSNR YUV', 'MS-SSIM', 'enc s', 'matched to nervkit'];
  const matchText = (p: PointResult) =>
    p.match === undefined ? '' : `${p.match === 'bytes' ? `bytes ${pct(p.matchError!)}` : `PSNR ${p.matchError! >= 0 ? '+' : ''}${p.matchError!.toFixed(2)} dB`}${p.matched ? '' : ' (!)'}`;
  const rows = points.map((p) => [
    p.label, String(p.point), `${p.setting}${isLossless(p) ? ' (lossless)' : ''}`, String(p.bytes), fmt(p.bpp, 4), fmt(p.psnr, 2), fmt(p.psnrYuv, 2), fmt(p.msSsim, 4),
    fmt(p.encodeSeconds, 2), matchText(p),
  ]);
  if (points.every((p) => p.match === undefined)) {
    header.pop();
    rows.forEach((r) => r.pop());
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = new Set([0, 2, 9]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function bdTable(rows: BdRow[]): string {
  return rows
    .map((r) => `  ${r.test.padEnd(13)} vs ${r.anchor.padEnd(13)}  BD-rate ${Number.isFinite(r.bdRatePercent) ? `${r.bdRatePercent >= 0 ? '+' : ''}${r.bdRatePercent.toFixed(1)}%` : 'n/a'}` +
      `  BD-PSNR ${Number.isFinite(r.bdPsnrDb) ? `${r.bdPsnrDb >= 0 ? '+' : ''}${r.bdPsnrDb.toFixed(2)} dB` : 'n/a'}${r.reason ? `  (${r.reason})` : ''}`)
    .join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const ffmpegVersion = await checkEncoders(options.ffmpeg, options.codecs);
  await mkdir(options.results, { recursive: true });
  const suffix = options.tag ? `-${options.tag}` : '';
  const clipResults = [];
  for (const clip of options.clips) {
    const clipStarted = performance.now();
    const dir = join(options.work, `${clip.name}-${clip.width}x${clip.height}-${clip.frames}f`);
    await mkdir(dir, { recursive: true });
    log(`${clip.name}: ${clip.frames} frames at ${clip.width}x${clip.height} from ${clip.path}`);
    const source = await prepareSource(clip, options, dir);
    const points: PointResult[] = [];
    let targets: AnchorTargets | undefined;
    if (options.nervkit) {
      const nervkit = await runNervkit(clip, options, source, dir);
      points.push(...nervkit);
      // PSNR targets: each nervkit point's, plus one 0.5 dB below and one above nervkit's range, so that the
      // anchor fit has 4 distinct points around that range even when nervkit's PSNRs lie close together.
      const psnrs = nervkit.map((p) => p.psnr);
      const psnrTargets = [...psnrs, Math.min(...psnrs) - 0.5, Math.max(...psnrs) + 0.5];
      targets = { bytes: nervkit.map((p) => p.bytes), psnr: options.matchPsnr ? psnrTargets : undefined };
    } else if (options.targetBpp || options.targetPsnr) {
      targets = { bytes: options.targetBpp?.map((bpp) => Math.round((bpp * clip.width * clip.height * clip.frames) / 8)), psnr: options.targetPsnr };
    }
    for (const codec of options.codecs) points.push(...(await runAnchor(codec, clip, options, source, dir, targets)));
    const bd = bdRows(points, options.codecs, options.nervkit);
    const references = (clip.references ?? []).filter((r) => r.width === clip.width && r.height === clip.height && r.frames === clip.frames);
    const seriesIds = [...(options.nervkit ? ['nervkit'] : []), ...options.codecs.map((c) => c.id)];
    const svg = rdPlotSvg({
      title: `${clip.name}: rate-distortion`,
      subtitle: `${clip.frames} frames at ${clip.width}x${clip.height}, RGB PSNR vs real bytes${options.quick ? ' (quick settings)' : ''}`,
      series: seriesIds.map((id) => ({
        label: points.find((p) => p.codec === id)?.label ?? id,
        points: points.filter((p) => p.codec === id && !isLossless(p)).map((p) => ({ bpp: p.bpp, psnr: p.psnr })),
      })),
      references,
    });
    const svgPath = join(options.results, `rd${suffix}-${clip.name}.svg`);
    await writeFile(svgPath, svg);
    const seconds = (performance.now() - clipStarted) / 1000;
    process.stdout.write(`\n${clip.name} (${clip.frames} frames, ${clip.width}x${clip.height}):\n${table(points)}\n`);
    if (bd.length) process.stdout.write(`BD (RGB PSNR, bpp; negative BD-rate = test saves bits):\n${bdTable(bd)}\n`);
    if (points.some(isLossless)) process.stdout.write('lossless points (PSNR capped at 100 dB) are left out of the BD fits and the plot\n');
    process.stdout.write(`plot: ${svgPath}; clip took ${seconds.toFixed(0)} s\n`);
    clipResults.push({ ...clip, source, seconds, points, bd, references, plot: svgPath });
  }
  const cpuList = cpus();
  const report = {
    bench: 'rd',
    date: new Date().toISOString(),
    machine: {
      cpu: cpuList[0]?.model ?? 'unknown',
      cores: cpuList.length,
      memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
      platform: `${platform()} ${release()}`,
      node: process.version,
      ffmpeg: ffmpegVersion,
    },
    settings: {
      quick: options.quick,
      nervkit: options.nervkit ? { bin: options.nervkitBin, points: options.points, extraArgs: options.nervkitArgs } : false,
      anchors: options.codecs.map((c) => ({ id: c.id, encoder: c.encoder, preset: c.preset, stream: c.format, extraArgs: c.extraArgs, seiRemoved: !options.keepSei })),
      anchorMode: options.nervkit
        ? `matched to each nervkit point's bytes${options.matchPsnr ? ', its RGB PSNR, and 0.5 dB below / above the nervkit PSNR range' : ''}`
        : options.targetBpp || options.targetPsnr
          ? `matched to bpp ${options.targetBpp?.join(',') ?? '-'} and PSNR ${options.targetPsnr?.join(',') ?? '-'}`
          : `fixed CRFs ${options.anchorCrfs.join(',')}`,
      tolerance: options.tolerance,
      psnrTolerance: options.psnrTolerance,
      keepSei: options.keepSei,
      maxEncodes: options.maxEncodes,
      metrics: 'nervkit metrics (as `nervkit eval`): mean over frames of RGB PSNR, YUV 4:2:0 PSNR (6Y+U+V)/8, MS-SSIM on luma; each frame capped at 100 dB',
      bpp: 'real file bytes x 8 / (width x height x frames); anchors count the raw elementary stream (no container; SEI options strings removed unless keepSei)',
      bd: 'Bjontegaard (cubic fit of ln(bpp) vs RGB PSNR, VCEG-M33), src/metrics/bd_rate.ts',
    },
    seconds: (performance.now() - started) / 1000,
    clips: clipResults,
  };
  const jsonPath = join(options.results, `rd${suffix}.json`);
  // JSON has no NaN: unavailable BD values become null, with their reason beside them.
  await writeFile(jsonPath, `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  process.stdout.write(`\nwrote ${jsonPath} in ${report.seconds.toFixed(0)} s total\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/rd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
