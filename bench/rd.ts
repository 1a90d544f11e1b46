/**
 * Rate-distortion bench: nervkit against x264 (medium, veryslow) and x265 (medium), BD-rate on YUV
 * PSNR (6:1:1, the headline) and on RGB PSNR.
 *
 *   npx tsx bench/rd.ts                                   # the built-in sample, default lambdas
 *   NERVKIT_CLIPS=../shared/clips npx tsx bench/rd.ts     # vtest 320x192x32 and box 160x120x16
 *   npx tsx bench/rd.ts --quick                           # 8 frames at 96x64, 40 steps: a smoke test
 *   npx tsx bench/rd.ts --no-nervkit                      # anchors only
 *   npx tsx bench/rd.ts --help
 *
 * Per clip: the source is cut and scaled once to a 4:2:0 Y4M (ffmpeg) under the work folder. nervkit
 * encodes it through its CLI (`nervkit encode --lambda L --json`, default settings unless --preset /
 * --steps / --nervkit-args say otherwise) at each lambda, and `nervkit eval --json` measures the file.
 * Each anchor then searches the CRF (fractional, regula falsi / bisection) whose raw elementary stream
 * (`-f h264` / `-f hevc`, no container, SEI options strings dropped) has the same bytes as each nervkit
 * file within --tolerance, and the CRF that gives each nervkit point's YUV PSNR (plus 0.5 dB below and
 * above nervkit's range, so that the anchor curve covers it and BD-rate exists even when nervkit is far
 * from the anchors). Every encode is decoded with ffmpeg and measured with nervkit's own metrics
 * (src/anchors/measure.ts, the computation of `nervkit eval`) against the same source Y4M; bpp = real
 * file bytes x 8 / (width x height x frames) for everybody.
 *
 * A full run takes hours on a CPU-only machine, so every finished nervkit point and every anchor encode
 * is cached as one JSON file under the work folder, keyed by everything that determines it (the source
 * Y4M's contents, frames, size, every encode setting, and a hash of the nervkit sources: src/, shaders/
 * and bin/; for anchors, ffmpeg's version and the measuring code). Running the same command again
 * skips what is cached and says so; a cache entry made by other sources is not reused. --fresh ignores
 * the cache. SIGINT/SIGTERM stop the encode in flight: nothing half-done is cached.
 *
 * Prints a table and the BD-rates, writes bench/results/rd[-TAG].json (after each clip) and per clip
 * rd[-TAG]-<clip>.svg (YUV PSNR vs bpp) and rd[-TAG]-<clip>-rgb.svg. Timings are recorded, never
 * checked. Exits non-zero if ffmpeg lacks libx264/libx265 or a nervkit point failed (the others run).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliDecompressSync } from 'node:zlib';
import { SAMPLE, SAMPLE_PATH } from '../src/cli/sample.ts';
import { ENCODE_DEFAULTS, PRESETS, type Preset } from '../src/encode/settings.ts';
import { bdPsnr, bdRate } from '../src/metrics/bd_rate.ts';
import { ANCHOR_CODECS, checkEncoders, decodeAnchor, encodeAnchor, searchCrf, type AnchorCodec } from '../src/anchors/x264.ts';
import { measureVideo, type Quality } from '../src/anchors/measure.ts';
import { run, CommandError } from '../src/anchors/process.ts';
import { rdPlotSvg, type PlotReference } from './lib/rd_svg.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface ClipSpec {
  name: string;
  path: string;
  /** The path as the report shows it: relative or '$NERVKIT_CLIPS/...', never this machine's absolute path. */
  shownPath: string;
  frames: number;
  width: number;
  height: number;
  /** Published or measured points drawn on the RGB plot when the clip has the size and length they were measured at. */
  references?: (PlotReference & { width: number; height: number; frames: number })[];
}

/**
 * OpenCV's sample clips vtest.avi and box.mp4 live in the folder $NERVKIT_CLIPS names (in this project
 * ../shared/clips); without it the presets fall back to the built-in sample. Any other clip: --clip NAME=PATH.
 */
const CLIPS_DIR = process.env.NERVKIT_CLIPS;

const CLIP_PRESETS: Record<string, Omit<ClipSpec, 'path'> & { file?: string }> = {
  sample: { name: 'sample', shownPath: relative(ROOT, SAMPLE_PATH), frames: SAMPLE.frames, width: SAMPLE.width, height: SAMPLE.height },
  vtest: {
    name: 'vtest',
    file: 'vtest.avi',
    shownPath: '$NERVKIT_CLIPS/vtest.avi',
    frames: 32,
    width: 320,
    height: 192,
    // docs/architecture.md: official HNeRV code (PyTorch) on a 2-core CPU, 150 epochs, 18 min; RGB PSNR.
    references: [{ label: 'HNeRV (measured)', bpp: 1.19, psnr: 32.0, width: 320, height: 192, frames: 32 }],
  },
  box: { name: 'box', file: 'box.mp4', shownPath: '$NERVKIT_CLIPS/box.mp4', frames: 16, width: 160, height: 120 },
};
const DEFAULT_CLIPS = CLIPS_DIR ? ['vtest', 'box'] : ['sample'];

/**
 * Default lambdas, 2.5-3x apart. An encoder minimising D + lambda * R (D: weighted MSE on [0, 1], R:
 * bpp) settles where its curve has slope -dD/dR = lambda. On x264 medium's curves (this bench,
 * --no-nervkit, 2026-12-02) that slope is 4e-4 at 43 dB YUV, 3e-3 at 38 dB and 1.8e-2 at 33 dB on
 * vtest 320x192x32 (0.18, 0.07 and 0.03 bpp), the same within 2-3x on box 160x120x16 and the sample:
 * 0.0005 ... 0.03 spans the 32-43 dB range where the anchors live, about 2.5 dB per step.
 */
const DEFAULT_LAMBDAS = [0.0005, 0.0015, 0.004, 0.01, 0.03];
const QUICK_STEPS = 40;

const HELP = `usage: npx tsx bench/rd.ts [options]
Runs nervkit (through its CLI) and the anchors on each clip and prints BD-rates on YUV PSNR (6:1:1,
the headline) and RGB PSNR. Every finished point is cached under --work: run the same command again
to resume (it says which points come from the cache); the cache key holds the clip, frames, size,
every encode setting and a hash of src/, shaders/ and bin/, so a stale entry is never reused.
In the background (node itself, so that kill reaches the bench; npx does not pass SIGTERM on):
  mkdir -p bench/out && nohup node --import tsx bench/rd.ts [options] > bench/out/rd.log 2>&1 &

clips
  --clips LIST            preset clips: ${Object.keys(CLIP_PRESETS).join(', ')} (default: vtest,box when $NERVKIT_CLIPS
                          names the folder holding OpenCV's vtest.avi and box.mp4, else sample: the built-in one)
  --clip NAME=PATH        add a clip (repeatable); uses --frames/--size or 32 frames at 320x192
  --frames N              frames per clip (overrides the presets)
  --size WxH              frame size (overrides the presets)
  --quick                 8 frames at 96x64, --steps ${QUICK_STEPS} (unless given); results tagged "quick"
nervkit
  --lambdas LIST          rate points: --lambda values (default ${DEFAULT_LAMBDAS.join(',')}; larger: smaller file)
  --preset NAME           ${Object.keys(PRESETS).join(', ')} (default: none passed, the encoder's default, ${ENCODE_DEFAULTS.preset})
  --steps N               --steps for every point (default: from the preset)
  --later-steps N         --later-steps for every point (default: from the preset)
  --nervkit-args "ARGS"   extra arguments for every nervkit encode (e.g. "--group 16"); part of the cache key
  --nervkit-bin PATH      the nervkit CLI script run with node (default bin/nervkit.js of this checkout;
                          the sources hashed are those of its checkout)
  --no-nervkit            anchors only: at --target-bpp / --target-psnr values if given, else at --anchor-crfs
anchors
  --codecs LIST           anchors (default ${ANCHOR_CODECS.map((c) => c.id).join(',')})
  --match-psnr LIST       PSNRs the anchors are also matched to, besides nervkit's bytes: yuv, rgb, yuv,rgb or
                          none (default yuv: each nervkit point's YUV PSNR and 0.5 dB below/above its range)
  --psnr-tolerance DB     PSNR match tolerance (default 0.05)
  --tolerance F           byte match tolerance (default 0.02 = 2%)
  --max-encodes N         CRF search encodes per target (default 10)
  --target-bpp LIST       with --no-nervkit: match the anchors to these bpp
  --target-psnr LIST      with --no-nervkit: match the anchors to these YUV PSNRs
  --anchor-crfs LIST      with --no-nervkit: fixed CRFs (default 18,23,28,33,38)
  --keep-sei              count the anchors' SEI messages (x264/x265 options strings; dropped by default)
  --ffmpeg PATH           ffmpeg to use (default: $NERVKIT_FFMPEG or ffmpeg)
cache and output
  --resume                reuse cached points (the default; accepted for clarity)
  --fresh                 ignore the cache: encode everything again (and overwrite the entries)
  --tag NAME              results go to rd-NAME.json / rd-NAME-<clip>.svg (default: none, "quick", "anchors" or "quick-anchors")
  --work DIR              work folder: sources, cache, encoded files (default bench/out/rd)
  --results DIR           results folder (default bench/results)`;

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

function wholeNumber(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: expected a whole number >= 1, got '${value}'`);
  return n;
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
      lambdas: { type: 'string' },
      preset: { type: 'string' },
      steps: { type: 'string' },
      'later-steps': { type: 'string' },
      'nervkit-args': { type: 'string' },
      'nervkit-bin': { type: 'string' },
      'no-nervkit': { type: 'boolean' },
      codecs: { type: 'string' },
      'match-psnr': { type: 'string' },
      'psnr-tolerance': { type: 'string' },
      tolerance: { type: 'string' },
      'max-encodes': { type: 'string' },
      'target-bpp': { type: 'string' },
      'target-psnr': { type: 'string' },
      'anchor-crfs': { type: 'string' },
      'keep-sei': { type: 'boolean' },
      ffmpeg: { type: 'string' },
      resume: { type: 'boolean' },
      fresh: { type: 'boolean' },
      tag: { type: 'string' },
      work: { type: 'string' },
      results: { type: 'string' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  if (values.resume && values.fresh) throw new Error('--resume and --fresh contradict each other: keep one');
  const quick = values.quick ?? false;
  const frames = wholeNumber(values.frames, 'frames') ?? (quick ? 8 : undefined);
  const size = values.size !== undefined ? parseSize(values.size) : quick ? { width: 96, height: 64 } : undefined;
  const clips: ClipSpec[] = [];
  const presetNames = values.clips !== undefined ? values.clips.split(',').filter(Boolean) : values.clip ? [] : DEFAULT_CLIPS;
  for (const name of presetNames) {
    const preset = CLIP_PRESETS[name];
    if (!preset) throw new Error(`--clips: unknown clip '${name}' (known: ${Object.keys(CLIP_PRESETS).join(', ')}; add others with --clip NAME=PATH)`);
    const { file, ...spec } = preset;
    const path = file === undefined ? SAMPLE_PATH : join(CLIPS_DIR ?? '$NERVKIT_CLIPS', file);
    clips.push({ ...spec, path, frames: frames ?? spec.frames, ...(size ?? {}) });
  }
  for (const spec of values.clip ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`--clip: expected NAME=PATH, got '${spec}'`);
    const name = spec.slice(0, eq);
    if (!/^[\w.-]+$/.test(name)) throw new Error(`--clip: the name '${name}' may hold letters, digits, '.', '_' and '-' only`);
    const path = spec.slice(eq + 1);
    clips.push({ name, path, shownPath: path, frames: frames ?? 32, width: size?.width ?? 320, height: size?.height ?? 192 });
  }
  if (new Set(clips.map((c) => c.name)).size !== clips.length) throw new Error('two clips share a name: give each --clip its own NAME');
  const lambdas = parseList(values.lambdas, 'lambdas') ?? DEFAULT_LAMBDAS;
  if (lambdas.some((l) => !(l > 0))) throw new Error('--lambdas: every lambda must be > 0');
  if (values.preset !== undefined && !(values.preset in PRESETS))
    throw new Error(`--preset: expected one of ${Object.keys(PRESETS).join(', ')}, got '${values.preset}'`);
  const steps = wholeNumber(values.steps, 'steps') ?? (quick ? QUICK_STEPS : undefined);
  const laterSteps = wholeNumber(values['later-steps'], 'later-steps');
  const codecIds = (values.codecs ?? ANCHOR_CODECS.map((c) => c.id).join(',')).split(',').filter(Boolean);
  const codecs = codecIds.map((id) => {
    const codec = ANCHOR_CODECS.find((c) => c.id === id);
    if (!codec) throw new Error(`--codecs: unknown anchor '${id}' (known: ${ANCHOR_CODECS.map((c) => c.id).join(', ')})`);
    return codec;
  });
  const matchPsnr = (values['match-psnr'] ?? 'yuv').split(',').filter(Boolean);
  if (matchPsnr.includes('none') ? matchPsnr.length !== 1 : matchPsnr.length === 0 || matchPsnr.some((m) => m !== 'yuv' && m !== 'rgb')) {
    throw new Error(`--match-psnr: expected yuv, rgb, yuv,rgb or none, got '${values['match-psnr']}'`);
  }
  const nervkit = !values['no-nervkit'];
  const tolerance = values.tolerance !== undefined ? Number(values.tolerance) : 0.02;
  const psnrTolerance = values['psnr-tolerance'] !== undefined ? Number(values['psnr-tolerance']) : 0.05;
  if (!(psnrTolerance > 0)) throw new Error('--psnr-tolerance: expected a number of dB > 0');
  if (!(tolerance > 0 && tolerance < 1)) throw new Error('--tolerance: expected a fraction between 0 and 1, e.g. 0.02');
  // Settings that change what a nervkit encode produces: passed to the CLI and part of the cache key.
  const settings = [
    ...(values.preset !== undefined ? ['--preset', values.preset] : []),
    ...(steps !== undefined ? ['--steps', String(steps)] : []),
    ...(laterSteps !== undefined ? ['--later-steps', String(laterSteps)] : []),
    ...(values['nervkit-args'] ?? '').split(/\s+/).filter(Boolean),
  ];
  return {
    quick,
    clips,
    lambdas,
    preset: (values.preset ?? ENCODE_DEFAULTS.preset) as Preset,
    presetNamed: values.preset !== undefined,
    settings,
    nervkitBin: resolve(values['nervkit-bin'] ?? join(ROOT, 'bin/nervkit.js')),
    codecs,
    nervkit,
    targetBpp: parseList(values['target-bpp'], 'target-bpp'),
    targetPsnr: parseList(values['target-psnr'], 'target-psnr'),
    matchPsnr: matchPsnr.filter((m): m is 'yuv' | 'rgb' => m !== 'none'),
    psnrTolerance,
    anchorCrfs: parseList(values['anchor-crfs'], 'anchor-crfs') ?? [18, 23, 28, 33, 38],
    tolerance,
    maxEncodes: wholeNumber(values['max-encodes'], 'max-encodes') ?? 10,
    keepSei: values['keep-sei'] ?? false,
    fresh: values.fresh ?? false,
    tag: values.tag ?? [quick ? 'quick' : '', nervkit ? '' : 'anchors'].filter(Boolean).join('-'),
    ffmpeg: values.ffmpeg ?? process.env.NERVKIT_FFMPEG ?? 'ffmpeg',
    work: resolve(values.work ?? join(ROOT, 'bench/out/rd')),
    results: resolve(values.results ?? join(ROOT, 'bench/results')),
  };
}

type Options = ReturnType<typeof parseOptions>;

// ---------------------------------------------------------------------------------------------------
// Cache: one JSON file per finished point, named by a hash of its key, the key stored inside.

type Key = Record<string, string | number | boolean | string[]>;

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function keyText(key: Key): string {
  return JSON.stringify(Object.fromEntries(Object.entries(key).sort(([a], [b]) => a.localeCompare(b))));
}

/** A hash of every file under `dirs` of `root` (paths and contents): what a cached result was made by. */
async function hashTree(root: string, dirs: string[]): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await readdir(join(root, dir), { withFileTypes: true }).catch(() => []);
    const files: string[] = [];
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) files.push(...(await walk(path)));
      else if (e.isFile()) files.push(path);
    }
    return files;
  };
  const files = (await Promise.all(dirs.map(walk))).flat().sort();
  if (files.length === 0) throw new Error(`no sources under ${dirs.map((d) => join(root, d)).join(', ')}`);
  for (const file of files)
    hash
      .update(`${file}\0`)
      .update(await readFile(join(root, file)))
      .update('\0');
  return hash.digest('hex').slice(0, 16);
}

interface CacheEntry<T> {
  key: Key;
  saved: string;
  result: T;
}

class PointCache {
  /** Entries written by this run: with --fresh they are the only ones read back. */
  private readonly written = new Set<string>();
  hits = 0;
  misses = 0;

  constructor(
    readonly dir: string,
    readonly fresh: boolean,
  ) {}

  /** `name` is a readable prefix (codec, setting); the hash of the key makes the file unique. */
  path(name: string, key: Key, ext = 'json'): string {
    return join(this.dir, `${name}-${sha256(keyText(key)).slice(0, 16)}.${ext}`);
  }

  async get<T>(name: string, key: Key): Promise<T | undefined> {
    const path = this.path(name, key);
    if (this.fresh && !this.written.has(path)) return undefined;
    const entry = await readFile(path, 'utf8').then(
      (t) => JSON.parse(t) as CacheEntry<T>,
      () => undefined,
    );
    // The key inside guards against a hash prefix collision and a hand-edited file.
    if (entry && keyText(entry.key) === keyText(key)) {
      this.hits++;
      return entry.result;
    }
    this.misses++;
    return undefined;
  }

  async put<T>(name: string, key: Key, result: T): Promise<void> {
    const path = this.path(name, key);
    const entry: CacheEntry<T> = { key, saved: new Date().toISOString(), result };
    await writeFile(`${path}.tmp`, `${JSON.stringify(entry, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    this.written.add(path);
  }

  /** Entries for `name` whose keys differ from `key` only in `field`: a cache made by other sources. */
  async staleCount(name: string, key: Key, field: string): Promise<number> {
    const { [field]: _, ...rest } = key;
    let count = 0;
    for (const file of await readdir(this.dir).catch(() => [] as string[])) {
      if (!file.startsWith(`${name}-`) || !file.endsWith('.json')) continue;
      const entry = await readFile(join(this.dir, file), 'utf8').then(
        (t) => JSON.parse(t) as CacheEntry<unknown>,
        () => undefined,
      );
      if (!entry || entry.key[field] === key[field]) continue;
      const { [field]: __, ...other } = entry.key;
      if (keyText(other) === keyText(rest)) count++;
    }
    return count;
  }
}

/** Only one run per work folder: two would encode the same points twice and race on the files. */
async function lockWork(dir: string): Promise<() => Promise<void>> {
  const lock = join(dir, 'lock');
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      let alive: boolean;
      try {
        alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (alive) throw new Error(`another bench/rd run (pid ${pid}) is using ${shown(dir)}: wait for it, or give this one another --work`, { cause: error });
      await rm(lock, { force: true }); // left by a run that died
    }
  }
}

// ---------------------------------------------------------------------------------------------------

interface PointResult extends Quality {
  codec: string;
  label: string;
  /** Index of the nervkit point (lambda) matched, of the --anchor-crfs / --target-* value; 'below' / 'above': the PSNR brackets. */
  point: number | 'below' | 'above';
  /** nervkit: its arguments; anchors: the CRF. */
  setting: string;
  crf?: number;
  lambda?: number;
  bytes: number;
  bpp: number;
  /** Wall-clock seconds of the encode command (nervkit: the CLI, including start-up and GPU set-up). */
  encodeSeconds: number;
  /** Whether this run took the result from the cache (its timings are those of the run that made it). */
  cached: boolean;
  /** Anchors matched to a nervkit point: what was matched, the target (bytes or dB), the miss (relative for bytes, dB for PSNR), the search cost. */
  match?: 'bytes' | 'psnrYuv' | 'psnrRgb';
  target?: number;
  matchError?: number;
  matched?: boolean;
  note?: string;
  searchProbes?: number;
  nervkit?: NervkitDetails;
}

interface NervkitDetails {
  /** The encoder's own timing (after start-up and GPU set-up) and the eval command's. */
  encoderSeconds: number;
  evalSeconds: number;
  /** PSNR the encoder printed (YUV 6:1:1 for Y'CbCr sources; should equal the evaluated one: closed loop) and its RGB PSNR. */
  encoderPsnr: number;
  encoderPsnrRgb: number;
  colour: string;
  adapter: string;
  parameterCount: number;
  macsPerPixel: number;
  latentBytes: number;
  networkBytes: number;
  /** Everything else: file and group headers. */
  headerBytes: number;
  groups: { frames: number; key: boolean; steps: number; seconds: number }[];
  warnings: string[];
  date: string;
  machine: string;
}

async function prepareSource(clip: ClipSpec, options: Options, dir: string, ffmpegVersion: string): Promise<{ path: string; hash: string }> {
  const path = join(dir, 'source.y4m');
  const input = await stat(clip.path).catch(() => {
    const hint = clip.path.startsWith('$NERVKIT_CLIPS') ? " (set NERVKIT_CLIPS to the folder holding OpenCV's vtest.avi and box.mp4)" : '';
    throw new Error(`clip '${clip.name}': ${clip.path} does not exist${hint}`);
  });
  // What the Y4M was made from: another input file under the same clip name makes it again.
  const made = JSON.stringify({
    input: resolve(clip.path),
    bytes: input.size,
    mtime: input.mtimeMs,
    frames: clip.frames,
    width: clip.width,
    height: clip.height,
    ffmpeg: ffmpegVersion,
  });
  const metaPath = join(dir, 'source.json');
  const current =
    (await readFile(metaPath, 'utf8').catch(() => '')) === made &&
    (await stat(path).then(
      (s) => s.size > 0,
      () => false,
    ));
  if (!current || options.fresh) {
    // ffmpeg cannot read the brotli-packed sample: unpack it first.
    const unpacked = clip.path.endsWith('.br') ? join(dir, 'input.y4m') : clip.path;
    if (unpacked !== clip.path) await writeFile(unpacked, brotliDecompressSync(await readFile(clip.path)));
    await run(
      options.ffmpeg,
      [
        '-v',
        'error',
        '-y',
        '-i',
        unpacked,
        '-frames:v',
        String(clip.frames),
        '-vf',
        `scale=${clip.width}:${clip.height}`,
        '-pix_fmt',
        'yuv420p',
        '-f',
        'yuv4mpegpipe',
        path,
      ],
      { signal: abort.signal },
    );
    await writeFile(metaPath, made);
  }
  return { path, hash: sha256(await readFile(path)).slice(0, 16) };
}

async function nervkitJson(bin: string, args: string[]): Promise<{ json: Record<string, unknown>; seconds: number }> {
  let result;
  try {
    result = await run(process.execPath, [bin, ...args], { signal: abort.signal });
  } catch (error) {
    if (error instanceof CommandError && !abort.signal.aborted) {
      throw new Error(`nervkit ${args[0]} failed (exit ${error.exitCode}):\n  ${error.stderr.trim().split('\n').slice(-6).join('\n  ')}`, { cause: error });
    }
    throw error;
  }
  try {
    return { json: JSON.parse(result.stdout) as Record<string, unknown>, seconds: result.seconds };
  } catch {
    throw new Error(`nervkit ${args[0]} --json printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
}

interface ClipContext {
  clip: ClipSpec;
  source: string;
  sourceHash: string;
  dir: string;
  cache: PointCache;
  pixels: number;
}

const MACHINE = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`;

async function runNervkit(ctx: ClipContext, options: Options, sourcesHash: string, failures: string[]): Promise<PointResult[]> {
  const results: PointResult[] = [];
  const fresh: number[] = [];
  for (const [i, lambda] of options.lambdas.entries()) {
    abort.signal.throwIfAborted();
    const settings = ['--lambda', String(lambda), ...options.settings];
    const key: Key = {
      kind: 'nervkit',
      clip: ctx.clip.name,
      source: ctx.sourceHash,
      frames: ctx.clip.frames,
      width: ctx.clip.width,
      height: ctx.clip.height,
      settings,
      sources: sourcesHash,
    };
    const name = `nervkit-lambda${lambda}`;
    let point = await ctx.cache.get<PointResult>(name, key);
    if (point) {
      log(
        `  nervkit ${i} (${settings.join(' ')}): cached, not encoded again (${point.bytes} bytes, ${fmt(point.psnrYuv, 2)} dB YUV; encoded in ${fmt(point.encodeSeconds, 0)} s on ${point.nervkit?.date.slice(0, 10)})`,
      );
      results.push({ ...point, point: i, cached: true });
      continue;
    }
    const stale = options.fresh ? 0 : await ctx.cache.staleCount(name, key, 'sources');
    const left = options.lambdas.length - i;
    const eta = fresh.length ? `; about ${fmt((left * fresh.reduce((a, b) => a + b, 0)) / fresh.length / 60, 0)} min left for this clip` : '';
    log(
      `  nervkit ${i} (${settings.join(' ')}): encoding, started ${new Date().toTimeString().slice(0, 5)}${stale ? ` (${stale} cached entry made by other nervkit sources: not reused)` : ''}${eta}`,
    );
    const file = ctx.cache.path(name, key, 'nerv');
    try {
      const encoded = await nervkitJson(options.nervkitBin, [
        'encode',
        '-i',
        ctx.source,
        '-o',
        file,
        '-y',
        '--frames',
        String(ctx.clip.frames),
        ...settings,
        '--json',
      ]);
      const evaluated = await nervkitJson(options.nervkitBin, ['eval', '-i', file, '--ref', ctx.source, '--json']);
      const bytes = (await stat(file)).size;
      const e = evaluated.json as { frames: number; psnr: number; psnrYuv: number; msSsim: number };
      const j = encoded.json as {
        seconds: number;
        psnr: number;
        psnrRgb: number;
        colour: string;
        adapter: string;
        parameterCount: number;
        macsPerPixel: number;
        warnings: string[];
        groups: { frames: number; key: boolean; steps: number; seconds: number; latentBytes: number; networkBytes: number }[];
      };
      const latentBytes = j.groups.reduce((a, g) => a + g.latentBytes, 0);
      const networkBytes = j.groups.reduce((a, g) => a + g.networkBytes, 0);
      point = {
        codec: 'nervkit',
        label: 'nervkit',
        point: i,
        setting: settings.join(' '),
        lambda,
        bytes,
        bpp: (bytes * 8) / ctx.pixels,
        frames: e.frames,
        psnr: e.psnr,
        psnrYuv: e.psnrYuv,
        msSsim: e.msSsim,
        encodeSeconds: encoded.seconds,
        cached: false,
        nervkit: {
          encoderSeconds: j.seconds,
          evalSeconds: evaluated.seconds,
          encoderPsnr: j.psnr,
          encoderPsnrRgb: j.psnrRgb,
          colour: j.colour,
          adapter: j.adapter,
          parameterCount: j.parameterCount,
          macsPerPixel: j.macsPerPixel,
          latentBytes,
          networkBytes,
          headerBytes: bytes - latentBytes - networkBytes,
          groups: j.groups.map((g) => ({ frames: g.frames, key: g.key, steps: g.steps, seconds: g.seconds })),
          warnings: j.warnings,
          date: new Date().toISOString(),
          machine: MACHINE,
        },
      };
    } catch (error) {
      if (abort.signal.aborted) throw error;
      const message = `${ctx.clip.name} nervkit ${i} (${settings.join(' ')}): ${error instanceof Error ? error.message : String(error)}`;
      failures.push(message);
      log(`    FAILED, not cached (the next run tries it again): ${message}`);
      continue;
    }
    // Sources edited during the encode: the result belongs to neither version, so it is not cached.
    if ((await hashTree(dirname(dirname(options.nervkitBin)), SOURCE_DIRS)) === sourcesHash) await ctx.cache.put(name, key, point);
    else log('    the nervkit sources changed during this encode: result kept for this run, not cached');
    fresh.push(point.encodeSeconds);
    results.push(point);
    const loop = Math.abs(point.nervkit!.encoderPsnr - point.psnrYuv);
    log(
      `    ${point.bytes} bytes, ${fmt(point.bpp, 4)} bpp, ${fmt(point.psnrYuv, 2)} dB YUV, ${fmt(point.psnr, 2)} dB RGB, ${fmt(point.encodeSeconds, 0)} s` +
        `${loop > 0.01 ? `  [encoder reported ${fmt(point.nervkit!.encoderPsnr, 2)} dB: closed loop off by ${fmt(loop, 3)} dB]` : ''}` +
        `${point.nervkit!.warnings.length ? `  [warnings: ${point.nervkit!.warnings.join('; ')}]` : ''}`,
    );
  }
  return results;
}

/** Directories whose contents make the nervkit sources hash. */
const SOURCE_DIRS = ['src', 'shaders', 'bin'];
/** The code an anchor point's numbers come from besides ffmpeg: reading Y4M and the metrics. */
const MEASURE_DIRS = ['src/anchors', 'src/metrics', 'src/video'];

interface AnchorTarget {
  match: 'bytes' | 'psnrYuv' | 'psnrRgb';
  point: number | 'below' | 'above';
  target: number;
}

interface AnchorProbe {
  crf: number;
  bytes: number;
  seconds: number;
  quality: Quality;
  cached: boolean;
}

async function runAnchor(codec: AnchorCodec, ctx: ClipContext, options: Options, anchorKey: Key, targets: AnchorTarget[] | undefined): Promise<PointResult[]> {
  const crfText = (crf: number) => crf.toFixed(2);
  const probes = new Map<string, AnchorProbe>();
  // Each probe is encoded, decoded and measured once, then cached: the searches of a resumed run replay from the cache.
  const probeAt = async (crf: number): Promise<AnchorProbe> => {
    const known = probes.get(crfText(crf));
    if (known) return known;
    abort.signal.throwIfAborted(); // ffmpeg runs are short: stop between them
    const key: Key = {
      ...anchorKey,
      codec: codec.id,
      encoder: codec.encoder,
      preset: codec.preset,
      format: codec.format,
      extraArgs: codec.extraArgs,
      crf: crfText(crf),
    };
    const name = `${codec.id}-crf${crfText(crf)}`;
    let probe = await ctx.cache.get<AnchorProbe>(name, key);
    if (probe) probe = { ...probe, cached: true };
    else {
      const encode = await encodeAnchor(options.ffmpeg, codec, ctx.source, crf, ctx.cache.path(name, key, codec.format), options.keepSei);
      const y4m = join(ctx.dir, `${codec.id}-decoded.y4m`);
      await decodeAnchor(options.ffmpeg, codec, encode.path, y4m);
      probe = { crf, bytes: encode.bytes, seconds: encode.seconds, quality: await measureVideo(y4m, ctx.source, ctx.clip.frames), cached: false };
      await ctx.cache.put(name, key, probe);
    }
    probes.set(crfText(crf), probe);
    return probe;
  };
  const row = (point: PointResult['point'], probe: AnchorProbe): PointResult => ({
    codec: codec.id,
    label: codec.label,
    point,
    setting: `crf ${crfText(probe.crf)}`,
    crf: probe.crf,
    bytes: probe.bytes,
    bpp: (probe.bytes * 8) / ctx.pixels,
    ...probe.quality,
    encodeSeconds: probe.seconds,
    cached: probe.cached,
  });
  const results: PointResult[] = [];
  for (const t of targets ?? []) {
    const byBytes = t.match === 'bytes';
    const valueOf = (p: AnchorProbe) => (byBytes ? Math.log(p.bytes) : t.match === 'psnrYuv' ? p.quality.psnrYuv : p.quality.psnr);
    const search = await searchCrf(byBytes ? Math.log(t.target) : t.target, probeAt, valueOf, [...probes.values()], {
      tolerance: byBytes ? Math.log1p(options.tolerance) : options.psnrTolerance,
      maxProbes: options.maxEncodes,
      slope: byBytes ? -Math.LN2 / 6 : -0.6, // bytes halve every ~6 CRF; about 0.6 dB per CRF step
    });
    const r: PointResult = {
      ...row(t.point, search.best),
      match: t.match,
      target: t.target,
      matchError: byBytes ? Math.expm1(search.error) : search.error,
      matched: search.matched,
      note: search.note,
      searchProbes: search.probes,
    };
    results.push(r);
    const miss = byBytes
      ? `${pct(r.matchError!)} vs ${t.target} bytes`
      : `${signed(r.matchError!, 3)} dB vs ${fmt(t.target, 2)} ${t.match === 'psnrYuv' ? 'YUV' : 'RGB'}`;
    log(
      `  ${codec.label} ${t.point} (${t.match}): crf ${crfText(r.crf!)}, ${r.bytes} bytes, ${fmt(r.psnrYuv, 2)} dB YUV (${miss}, ${search.probes} probes)${r.note ? `  [${r.note}]` : ''}`,
    );
  }
  if (!targets) {
    for (const [i, crf] of options.anchorCrfs.entries()) {
      results.push(row(i, await probeAt(crf)));
      log(`  ${codec.label} crf ${crf}: ${results[i].bytes} bytes, ${fmt(results[i].psnrYuv, 2)} dB YUV${results[i].cached ? ' (cached)' : ''}`);
    }
  }
  const cached = [...probes.values()].filter((p) => p.cached).length;
  if (cached) log(`  ${codec.label}: ${cached} of ${probes.size} encodes from the cache`);
  return results;
}

/**
 * A lossless point (x264 at CRF 0, or identical frames) has every frame's PSNR capped at 100 dB: it is
 * not on the rate-distortion curve, and a cubic through it would wreck the BD fit, so fits and plots skip it.
 */
function isLossless(p: PointResult): boolean {
  return p.psnr >= 99.99 || p.psnrYuv >= 99.99;
}

interface BdValue {
  bdRatePercent: number;
  bdPsnrDb: number;
  reason?: string;
}

interface BdRow {
  test: string;
  anchor: string;
  /** The headline: YUV PSNR (6:1:1). */
  yuv: BdValue;
  rgb: BdValue;
}

function bdRows(points: PointResult[], codecs: AnchorCodec[], nervkit: boolean): BdRow[] {
  // One point per distinct encode: a bytes match and a PSNR match may land on the same CRF.
  const curve = (id: string, metric: 'psnr' | 'psnrYuv') => {
    const seen = new Set<string>();
    return points.filter((p) => p.codec === id && !isLossless(p) && !seen.has(p.setting) && seen.add(p.setting)).map((p) => ({ rate: p.bpp, psnr: p[metric] }));
  };
  const bd = (test: string, anchor: string, metric: 'psnr' | 'psnrYuv'): BdValue => {
    const rate = bdRate(curve(anchor, metric), curve(test, metric));
    const psnr = bdPsnr(curve(anchor, metric), curve(test, metric));
    return { bdRatePercent: rate.value, bdPsnrDb: psnr.value, reason: rate.reason ?? psnr.reason };
  };
  const rows: BdRow[] = [];
  const add = (test: string, anchor: string) => rows.push({ test, anchor, yuv: bd(test, anchor, 'psnrYuv'), rgb: bd(test, anchor, 'psnr') });
  if (nervkit) for (const c of codecs) add('nervkit', c.id);
  // The anchors against x264 medium: a sanity check of the anchors and of the BD computation.
  const base = codecs.find((c) => c.id === 'x264-medium');
  if (base) for (const c of codecs) if (c !== base) add(c.id, base.id);
  return rows;
}

function fmt(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function signed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}

function pct(x: number): string {
  return `${signed(x * 100, 1)}%`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function table(points: PointResult[]): string {
  const header = ['codec', 'pt', 'setting', 'bytes', 'bpp', 'YUV PSNR', 'RGB PSNR', 'MS-SSIM', 'enc s', 'matched to nervkit'];
  const matchText = (p: PointResult) =>
    p.match === undefined
      ? ''
      : `${p.match === 'bytes' ? `bytes ${pct(p.matchError!)}` : `${p.match === 'psnrYuv' ? 'YUV' : 'RGB'} ${signed(p.matchError!, 2)} dB`}${p.matched ? '' : ' (!)'}`;
  const rows = points.map((p) => [
    p.label,
    String(p.point),
    `${p.setting}${isLossless(p) ? ' (lossless)' : ''}${p.cached ? ' *' : ''}`,
    String(p.bytes),
    fmt(p.bpp, 4),
    fmt(p.psnrYuv, 2),
    fmt(p.psnr, 2),
    fmt(p.msSsim, 4),
    fmt(p.encodeSeconds, p.codec === 'nervkit' ? 0 : 2),
    matchText(p),
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
  const value = (v: BdValue) =>
    `${Number.isFinite(v.bdRatePercent) ? `${signed(v.bdRatePercent, 1)}%` : 'n/a'} (${Number.isFinite(v.bdPsnrDb) ? `${signed(v.bdPsnrDb, 2)} dB` : 'n/a'})`;
  const cells = rows.map((r) => [`${r.test} vs ${r.anchor}`, value(r.yuv), value(r.rgb), r.yuv.reason ?? r.rgb.reason ?? '']);
  const header = ['', 'BD-rate YUV (BD-PSNR)', 'BD-rate RGB (BD-PSNR)', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells].map((c) => `  ${c.map((x, i) => x.padEnd(widths[i])).join('  ')}`.trimEnd()).join('\n');
}

/** Report paths relative to the checkout, so that results hold no machine's absolute paths. */
function shown(path: string): string {
  return relative(ROOT, path) || '.';
}

const abort = new AbortController();
let interrupted: NodeJS.Signals | undefined;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const startLoad = loadavg();
  const ffmpegVersion = await checkEncoders(options.ffmpeg, options.codecs);
  await mkdir(options.work, { recursive: true });
  const unlock = await lockWork(options.work);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = signal;
      abort.abort();
    });
  }
  try {
    await mkdir(options.results, { recursive: true });
    const nervkitRoot = dirname(dirname(options.nervkitBin));
    const sourcesHash = options.nervkit ? await hashTree(nervkitRoot, SOURCE_DIRS) : '';
    const measureHash = await hashTree(ROOT, MEASURE_DIRS);
    const suffix = options.tag ? `-${options.tag}` : '';
    const failures: string[] = [];
    const clipResults = [];
    const jsonPath = join(options.results, `rd${suffix}.json`);
    log(
      `bench/rd: ${options.clips.map((c) => c.name).join(', ')}; ` +
        (options.nervkit
          ? `nervkit at lambda ${options.lambdas.join(', ')}, preset ${options.preset}${options.presetNamed ? '' : ' (the default)'}${options.settings.length ? `, ${options.settings.join(' ')}` : ''} (sources ${sourcesHash}); `
          : '') +
        `anchors ${options.codecs.map((c) => c.id).join(', ')}; cache ${shown(options.work)}${options.fresh ? ' (--fresh: ignored)' : ''}`,
    );
    for (const clip of options.clips) {
      const clipStarted = performance.now();
      const dir = join(options.work, `${clip.name}-${clip.width}x${clip.height}-${clip.frames}f`);
      await mkdir(dir, { recursive: true });
      log(`${clip.name}: ${clip.frames} frames at ${clip.width}x${clip.height} from ${clip.shownPath}`);
      const { path: source, hash: sourceHash } = await prepareSource(clip, options, dir, ffmpegVersion);
      const ctx: ClipContext = { clip, source, sourceHash, dir, cache: new PointCache(dir, options.fresh), pixels: clip.width * clip.height * clip.frames };
      const points: PointResult[] = [];
      let targets: AnchorTarget[] | undefined;
      if (options.nervkit) {
        const nervkit = await runNervkit(ctx, options, sourcesHash, failures);
        points.push(...nervkit);
        targets = nervkit.map((p) => ({ match: 'bytes' as const, point: p.point, target: p.bytes }));
        // PSNR targets: each nervkit point's, plus one 0.5 dB below and one above nervkit's range, so that the
        // anchor fit has 4 distinct points around that range even when nervkit's PSNRs lie close together.
        for (const metric of options.matchPsnr) {
          const match = metric === 'yuv' ? ('psnrYuv' as const) : ('psnr' as const);
          const psnrs = nervkit.map((p) => p[match]);
          if (psnrs.length === 0) continue;
          const m = metric === 'yuv' ? ('psnrYuv' as const) : ('psnrRgb' as const);
          targets.push(...nervkit.map((p) => ({ match: m, point: p.point, target: p[match] })));
          targets.push({ match: m, point: 'below', target: Math.min(...psnrs) - 0.5 }, { match: m, point: 'above', target: Math.max(...psnrs) + 0.5 });
        }
      } else if (options.targetBpp || options.targetPsnr) {
        targets = [
          ...(options.targetBpp ?? []).map((bpp, i) => ({ match: 'bytes' as const, point: i, target: Math.round((bpp * ctx.pixels) / 8) })),
          ...(options.targetPsnr ?? []).map((psnr, i) => ({ match: 'psnrYuv' as const, point: i, target: psnr })),
        ];
      }
      const anchorKey: Key = {
        kind: 'anchor',
        source: sourceHash,
        frames: clip.frames,
        width: clip.width,
        height: clip.height,
        keepSei: options.keepSei,
        ffmpeg: ffmpegVersion,
        measure: measureHash,
      };
      // Two nervkit points with the same bytes or PSNR (e.g. both at the size floor) need one anchor point.
      targets = targets?.filter((t, i) => targets!.findIndex((u) => u.match === t.match && u.target === t.target) === i);
      for (const codec of options.codecs) points.push(...(await runAnchor(codec, ctx, options, anchorKey, targets)));
      const bd = bdRows(points, options.codecs, options.nervkit);
      const references = (clip.references ?? []).filter((r) => r.width === clip.width && r.height === clip.height && r.frames === clip.frames);
      const seriesIds = [...(options.nervkit ? ['nervkit'] : []), ...options.codecs.map((c) => c.id)];
      const plots: string[] = [];
      for (const metric of ['psnrYuv', 'psnr'] as const) {
        const yuv = metric === 'psnrYuv';
        const svg = rdPlotSvg({
          title: `${clip.name}: rate-distortion`,
          subtitle: `${clip.frames} frames at ${clip.width}x${clip.height}, ${yuv ? 'YUV PSNR (6:1:1)' : 'RGB PSNR'} vs real bytes${options.quick ? ' (quick settings)' : ''}`,
          yLabel: yuv ? 'PSNR YUV 6:1:1 (dB)' : 'PSNR RGB (dB)',
          series: seriesIds.map((id) => ({
            label: points.find((p) => p.codec === id)?.label ?? id,
            points: points.filter((p) => p.codec === id && !isLossless(p)).map((p) => ({ bpp: p.bpp, psnr: p[metric] })),
          })),
          references: yuv ? [] : references, // the references were measured in RGB PSNR
        });
        const svgPath = join(options.results, `rd${suffix}-${clip.name}${yuv ? '' : '-rgb'}.svg`);
        await writeFile(svgPath, svg);
        plots.push(shown(svgPath));
      }
      const seconds = (performance.now() - clipStarted) / 1000;
      process.stdout.write(`\n${clip.name} (${clip.frames} frames, ${clip.width}x${clip.height}):\n${table(points)}\n`);
      if (points.some((p) => p.cached)) process.stdout.write(`* from the cache (${shown(dir)}): timings are those of the run that made it\n`);
      if (bd.length) process.stdout.write(`BD-rate of bpp at equal PSNR (negative: the first codec saves bits), BD-PSNR in brackets:\n${bdTable(bd)}\n`);
      if (points.some(isLossless)) process.stdout.write('lossless points (PSNR capped at 100 dB) are left out of the BD fits and the plots\n');
      process.stdout.write(`plots: ${plots.join(', ')}; clip took ${seconds.toFixed(0)} s in this run\n`);
      const { path: _, ...clipShown } = clip;
      clipResults.push({ ...clipShown, path: clip.shownPath, source: shown(source), sourceHash, seconds, points, bd, references, plots });
      // Written after every clip, so a long run shows its finished clips before it ends.
      await writeReport(jsonPath, options, { ffmpegVersion, sourcesHash, started, startLoad, clips: clipResults, failures });
    }
    process.stdout.write(`\nwrote ${shown(jsonPath)} in ${((performance.now() - started) / 1000).toFixed(0)} s total\n`);
    if (failures.length) {
      process.stdout.write(`${failures.length} nervkit point(s) failed (not cached; the next run tries them again):\n  ${failures.join('\n  ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    await unlock();
  }
}

async function writeReport(
  path: string,
  options: Options,
  run: { ffmpegVersion: string; sourcesHash: string; started: number; startLoad: number[]; clips: unknown[]; failures: string[] },
): Promise<void> {
  const cpuList = cpus();
  const report = {
    bench: 'rd',
    date: new Date().toISOString(),
    command: `npx tsx bench/rd.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpu: cpuList[0]?.model ?? 'unknown',
      cores: cpuList.length,
      memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
      platform: `${platform()} ${release()}`,
      node: process.version,
      ffmpeg: run.ffmpegVersion,
      // The machine is shared: the load says how far the timings are from an idle machine's.
      loadAverage: { start: run.startLoad.map((l) => Number(l.toFixed(2))), end: loadavg().map((l) => Number(l.toFixed(2))) },
    },
    settings: {
      quick: options.quick,
      nervkit: options.nervkit
        ? {
            bin: shown(options.nervkitBin),
            sources: run.sourcesHash,
            lambdas: options.lambdas,
            preset: options.preset,
            presetNamed: options.presetNamed,
            settings: options.settings,
          }
        : false,
      anchors: options.codecs.map((c) => ({
        id: c.id,
        encoder: c.encoder,
        preset: c.preset,
        stream: c.format,
        extraArgs: c.extraArgs,
        seiRemoved: !options.keepSei,
      })),
      anchorMode: options.nervkit
        ? `matched to each nervkit point's bytes${options.matchPsnr.map((m) => `, its ${m.toUpperCase()} PSNR (and 0.5 dB below / above nervkit's range)`).join('')}`
        : options.targetBpp || options.targetPsnr
          ? `matched to bpp ${options.targetBpp?.join(',') ?? '-'} and YUV PSNR ${options.targetPsnr?.join(',') ?? '-'}`
          : `fixed CRFs ${options.anchorCrfs.join(',')}`,
      tolerance: options.tolerance,
      psnrTolerance: options.psnrTolerance,
      maxEncodes: options.maxEncodes,
      metrics:
        'nervkit metrics (as `nervkit eval`): mean over frames of YUV PSNR (6Y+U+V)/8 on the 4:2:0 planes (the headline), RGB PSNR, MS-SSIM on luma; each frame capped at 100 dB',
      bpp: 'real file bytes x 8 / (width x height x frames); anchors count the raw elementary stream (no container; SEI options strings removed unless keepSei)',
      bd: 'Bjontegaard (cubic fit of ln(bpp) vs PSNR, VCEG-M33), src/metrics/bd_rate.ts, on YUV PSNR (headline) and RGB PSNR',
      cache: 'cached points (cached: true) keep the timings of the run that made them',
    },
    seconds: (performance.now() - run.started) / 1000,
    failures: run.failures,
    clips: run.clips,
  };
  // JSON has no NaN: unavailable BD values become null, with their reason beside them.
  await writeFile(path, `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

main().catch((error: unknown) => {
  if (interrupted) {
    process.stderr.write(`bench/rd: interrupted (${interrupted}); finished points are cached: run the same command again to resume\n`);
    process.exitCode = interrupted === 'SIGINT' ? 130 : 143;
    return;
  }
  process.stderr.write(`bench/rd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
