// Node edge: opening and writing videos on disk, with ffmpeg as an optional subprocess.
//
// Without ffmpeg: Y4M files (streamed) and PNG sequences (a pattern like frames/%04d.png, or a
// directory of PNGs). With ffmpeg on the PATH (or NERVKIT_FFMPEG / the `ffmpeg` option): every
// container ffmpeg reads, decoded by `ffmpeg -f yuv4mpegpipe` into our streaming Y4M parser, and
// scaling of any input (`-vf scale=W:H`, ffmpeg's default bicubic). Nothing holds more than about
// one frame (plus one pipe or file chunk) in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { basename, delimiter, dirname, extname, join } from 'node:path';
import pngjs from 'pngjs';
import { BadArgumentError, NervError } from '../errors.ts';
import { commitTempFile, tempPathFor } from '../format/atomic.ts';
import { rgba8ToRgb, rgbToRgba8, type ChromaFormat } from './color.ts';
import { assertRgbFrame, type ColorSpace, type FrameSource, type RgbFrame, type VideoInfo } from './frame.ts';
import { Y4M_LIMITS, Y4mDecoder, Y4mEncoder, y4mVideoInfo } from './y4m.ts';

const { PNG } = pngjs;

/** ffmpeg is needed for the requested input or output and could not be found. Code NO_FFMPEG. */
export class NoFfmpegError extends NervError {
  constructor(need: string, command: string) {
    super(
      'NO_FFMPEG',
      `${need} needs ffmpeg, which was not found (looked for '${command}'${command.includes('/') ? '' : ' on the PATH'}). ` +
        'Without ffmpeg nervkit reads and writes Y4M (.y4m) and PNG sequences (frames/%04d.png, or a directory of PNGs). ' +
        'Install ffmpeg: `apt-get install ffmpeg` (Debian/Ubuntu), `dnf install ffmpeg` (Fedora), `brew install ffmpeg` (macOS), ' +
        '`winget install ffmpeg` (Windows); or set NERVKIT_FFMPEG to its path.',
    );
  }
}

export interface OpenVideoOptions {
  /** Stop after this many frames. */
  maxFrames?: number;
  /** Resize every frame (through ffmpeg, bicubic) unless the video already has this size. */
  scale?: { width: number; height: number };
  /** ffmpeg command or path; default: $NERVKIT_FFMPEG, else `ffmpeg` on the PATH. */
  ffmpeg?: string;
  /** Matrix of the stored YUV, overriding what the file says (Y4M and many files say nothing: bt601). */
  colorSpace?: ColorSpace;
  /** Frame rate for PNG sequences, which store none; default 25/1 as in ffmpeg. */
  fps?: { num: number; den: number };
}

export interface WriteVideoOptions {
  /** ffmpeg command or path; default: $NERVKIT_FFMPEG, else `ffmpeg` on the PATH. */
  ffmpeg?: string;
  /** ffmpeg video codec for container outputs; default libx264 for mp4/mov/mkv/m4v, libvpx-vp9 for webm, else ffmpeg's choice. */
  codec?: string;
  /** Constant rate factor passed to ffmpeg (`-crf`); default: the codec's. */
  crf?: number;
  /** Chroma format of .y4m outputs; default 4:2:0. */
  chroma?: ChromaFormat;
  /** false: fail instead of replacing an existing file (checked atomically at the end). Default true. */
  overwrite?: boolean;
  /** Write Y4M whatever the file name says (default: the extension decides). */
  format?: 'y4m';
}

/**
 * Resolves an ffmpeg command to an executable path, or null. A command with a slash is checked as a
 * path; a bare name is searched in `pathEnv` (default $PATH).
 */
export function findFfmpeg(command = defaultFfmpegCommand(), pathEnv = process.env.PATH ?? ''): string | null {
  const candidates = command.includes('/')
    ? [command]
    : pathEnv
        .split(delimiter)
        .filter(Boolean)
        .flatMap((dir) => (process.platform === 'win32' ? [join(dir, command), join(dir, `${command}.exe`)] : [join(dir, command)]));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

function defaultFfmpegCommand(): string {
  return process.env.NERVKIT_FFMPEG || 'ffmpeg';
}

function requireFfmpeg(need: string, command = defaultFfmpegCommand()): string {
  const found = findFfmpeg(command);
  if (!found) throw new NoFfmpegError(need, command);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Input classification

type InputKind = { kind: 'y4m' } | { kind: 'png'; files: string[] } | { kind: 'ffmpeg' };

const PATTERN = /%(0?\d*)d/;

/** Whether `path` names a numbered image sequence (`frames/%04d.png`) rather than one file. */
export function isImagePattern(path: string): boolean {
  return PATTERN.test(basename(path));
}

/** The file name of frame `index` of a pattern (`%04d` -> 0001). */
export function formatPattern(pattern: string, index: number): string {
  return pattern.replace(PATTERN, (_m, width: string) => String(index).padStart(width ? Number(width) : 0, '0'));
}

/** Files of a numbered pattern, from the first existing start index 0..4 (as ffmpeg) until a gap. */
async function patternFiles(pattern: string): Promise<string[]> {
  let start = -1;
  for (let i = 0; i <= 4 && start < 0; i++) if (await isFile(formatPattern(pattern, i))) start = i;
  if (start < 0) {
    throw new NervError('IO', `no file matches ${pattern} (tried ${formatPattern(pattern, 0)} to ${formatPattern(pattern, 4)})`);
  }
  const files: string[] = [];
  for (let i = start; await isFile(formatPattern(pattern, i)); i++) files.push(formatPattern(pattern, i));
  return files;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** A URL (`http://...`) rather than a path: ffmpeg reads those. */
export function isUrl(input: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(input);
}

async function classifyInput(path: string): Promise<InputKind> {
  if (isUrl(path)) return { kind: 'ffmpeg' };
  const ext = extname(path).toLowerCase();
  if (PATTERN.test(basename(path))) {
    if (ext === '.png') return { kind: 'png', files: await patternFiles(path) };
    await patternFiles(path); // other image patterns go to ffmpeg's image2, but must exist
    return { kind: 'ffmpeg' };
  }
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new NervError('IO', code === 'ENOENT' ? `input not found: ${path}` : `cannot access ${path}: ${(cause as Error).message}`, { cause });
  }
  if (info.isDirectory()) {
    const collator = new Intl.Collator(undefined, { numeric: true });
    const names = (await readdir(path)).filter((n) => n.toLowerCase().endsWith('.png')).sort(collator.compare);
    if (names.length === 0) throw new NervError('BAD_INPUT', `directory ${path} holds no .png files`);
    return { kind: 'png', files: names.map((n) => join(path, n)) };
  }
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (cause) {
    throw new NervError('IO', `cannot read ${path}: permission denied`, { cause });
  }
  if (info.size === 0) throw new NervError('BAD_INPUT', `${path} is empty`);
  if (ext === '.y4m') return { kind: 'y4m' };
  if (ext === '.png') return { kind: 'png', files: [path] };
  return { kind: 'ffmpeg' };
}

// ---------------------------------------------------------------------------------------------
// Streams of frames

/** One pass over a video: the first frame is already decoded (which proves there is one). */
interface Pass {
  info: VideoInfo;
  first: RgbFrame;
  next(): Promise<RgbFrame | null>;
  close(): Promise<void>;
}

function checkOptions(options: OpenVideoOptions): void {
  const { maxFrames, scale, fps } = options;
  if (maxFrames !== undefined && (!Number.isInteger(maxFrames) || maxFrames < 1)) {
    throw new BadArgumentError(`maxFrames must be a positive integer, got ${maxFrames}`);
  }
  if (scale !== undefined) {
    const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= Y4M_LIMITS.maxDimension;
    if (!ok(scale.width) || !ok(scale.height)) {
      throw new BadArgumentError(`scale must be positive integers up to ${Y4M_LIMITS.maxDimension}, got ${scale.width}x${scale.height}`);
    }
  }
  if (fps !== undefined && !(Number.isInteger(fps.num) && Number.isInteger(fps.den) && fps.num > 0 && fps.den > 0)) {
    throw new BadArgumentError(`fps must be positive integers num/den, got ${fps.num}/${fps.den}`);
  }
}

/**
 * Opens a video for streaming: `.y4m`, a PNG pattern (`frames/%04d.png`), a directory of PNGs, a
 * single `.png`, or anything ffmpeg reads (URLs too). Throws NervError: IO (missing/unreadable), BAD_INPUT
 * (corrupt, unsupported, no frames), NO_FFMPEG, BAD_ARGUMENT (options).
 */
export async function openVideo(path: string, options: OpenVideoOptions = {}): Promise<FrameSource> {
  checkOptions(options);
  const input = await classifyInput(path);
  return sourceOf(path, await passFactory(path, input, options), options);
}

/** A FrameSource whose every frames() call is a new pass from `start` (the first one opened now). */
async function sourceOf(path: string, start: () => Promise<Pass>, options: OpenVideoOptions): Promise<FrameSource> {
  const maxFrames = options.maxFrames ?? Infinity;
  const open = new Set<Pass>();
  const first = await start();
  open.add(first);
  let unused: Pass | null = first;
  let closed = false;
  return {
    info: first.info,
    async *frames() {
      if (closed) throw new BadArgumentError(`video ${path} is closed`);
      const pass = unused ?? (await start());
      unused = null;
      open.add(pass);
      try {
        let count = 1;
        yield pass.first;
        while (count < maxFrames) {
          const frame = await pass.next();
          if (!frame) break;
          count++;
          yield frame;
        }
      } finally {
        open.delete(pass);
        await pass.close();
      }
    },
    async close() {
      closed = true;
      unused = null;
      const passes = [...open];
      open.clear();
      await Promise.all(passes.map((p) => p.close()));
    },
  };
}

async function passFactory(path: string, input: InputKind, options: OpenVideoOptions): Promise<() => Promise<Pass>> {
  const scale = options.scale;
  if (input.kind === 'y4m') {
    const native = await readY4mHeaderOf(path);
    if (!scale || (scale.width === native.width && scale.height === native.height)) return () => openY4mPass(path, options);
    const ffmpeg = requireFfmpeg(`scaling ${path} to ${scale.width}x${scale.height}`, options.ffmpeg);
    const pixFmt = `yuv${native.chroma}p`;
    return () =>
      openFfmpegPass({
        ffmpeg,
        source: path,
        inputArgs: ['-f', 'yuv4mpegpipe', '-i', path],
        pixFmt,
        options,
        colorSpace: options.colorSpace ?? native.colorSpace ?? 'bt601',
        frameCount: native.frameCount,
      });
  }
  if (input.kind === 'png') {
    const size = pngSize(await readFile(input.files[0]), input.files[0]);
    if (!scale || (scale.width === size.width && scale.height === size.height)) return () => openPngPass(path, input.files, options);
    const ffmpeg = requireFfmpeg(`scaling ${path} to ${scale.width}x${scale.height}`, options.ffmpeg);
    const fps = options.fps ?? { num: 25, den: 1 };
    return () =>
      openFfmpegPass({
        ffmpeg,
        source: path,
        options,
        colorSpace: options.colorSpace ?? 'bt601',
        frameCount: input.files.length,
        // PNGs are piped in, so any file names work; 4:4:4 keeps their full colour resolution.
        inputArgs: ['-f', 'image2pipe', '-framerate', `${fps.num}/${fps.den}`, '-c:v', 'png', '-i', 'pipe:0'],
        pixFmt: 'yuv444p',
        feed: input.files,
      });
  }
  const ffmpeg = requireFfmpeg(`reading ${path}`, options.ffmpeg);
  const probe = await probeVideo(ffmpeg, path);
  const inputArgs = PATTERN.test(basename(path)) ? ['-f', 'image2', '-i', path] : ['-i', path];
  return () =>
    openFfmpegPass({
      ffmpeg,
      source: path,
      inputArgs,
      options,
      pixFmt: probe.pixFmt,
      colorSpace: options.colorSpace ?? probe.colorSpace,
      frameCount: probe.frameCount,
    });
}

function capFrameCount(count: number | undefined, options: OpenVideoOptions): number | undefined {
  if (count === undefined) return options.maxFrames;
  return options.maxFrames === undefined ? count : Math.min(count, options.maxFrames);
}

// --- Y4M files

interface Y4mFileHeader {
  width: number;
  height: number;
  chroma: ChromaFormat;
  colorSpace?: ColorSpace;
  frameCount?: number;
}

async function readY4mHeaderOf(path: string): Promise<Y4mFileHeader> {
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(Y4M_LIMITS.maxHeaderBytes + 1);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const decoder = new Y4mDecoder();
    decoder.push(buffer.subarray(0, bytesRead));
    if (bytesRead < buffer.length) decoder.end();
    let header;
    try {
      header = decoder.header();
    } catch (error) {
      throw withPath(path, error);
    }
    if (!header) throw new NervError('BAD_INPUT', `${path}: Y4M header is truncated`);
    const headerBytes = bytesRead - decoder.bufferedBytes;
    const size = (await file.stat()).size;
    // Exact when FRAME lines carry no parameters, which is what every common writer does.
    const perFrame = 'FRAME\n'.length + decoder.frameSize;
    const frames = (size - headerBytes) / perFrame;
    return { ...header, frameCount: Number.isInteger(frames) ? frames : undefined };
  } finally {
    await file.close();
  }
}

/** Names the file in a NervError that does not already. */
function withPath(path: string, error: unknown): unknown {
  if (error instanceof NervError && !error.message.includes(path)) {
    return new NervError(error.code, `${path}: ${error.message}`, { cause: error });
  }
  return error;
}

async function openY4mPass(path: string, options: OpenVideoOptions): Promise<Pass> {
  const header = await readY4mHeaderOf(path);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  return y4mPass(stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>, path, header.frameCount, options, async () => {
    stream.destroy();
  });
}

/** A pass over Y4M chunks, its first frame decoded; errors name `source`. */
async function y4mPass(
  chunks: AsyncIterator<Uint8Array>,
  source: string,
  frameCount: number | undefined,
  options: OpenVideoOptions,
  close: () => Promise<void>,
): Promise<Pass> {
  const decoder = new Y4mDecoder({ colorSpace: options.colorSpace });
  const next = () =>
    pullFrame(decoder, chunks).catch((error: unknown) => {
      throw withPath(source, error);
    });
  try {
    const first = await next();
    if (!first) throw new NervError('BAD_INPUT', `${source} contains no frames`);
    const info = y4mVideoInfo(decoder.header()!, source, options.colorSpace);
    info.frameCount = capFrameCount(frameCount, options);
    return { info, first, next, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Decodes the next frame, pulling chunks only while the decoder needs more bytes. */
async function pullFrame(decoder: Y4mDecoder, chunks: AsyncIterator<Uint8Array>): Promise<RgbFrame | null> {
  for (;;) {
    const frame = decoder.read();
    if (frame) return frame;
    const chunk = await chunks.next();
    if (chunk.done) {
      decoder.end();
      return decoder.read();
    }
    decoder.push(chunk.value);
  }
}

/**
 * A Y4M video read once from a stream (stdin, a gunzip stream): `frames()` can be iterated once, and
 * the frame count is unknown unless `frameCount` says it. `source` names the stream in errors.
 */
export async function openY4mStream(
  stream: AsyncIterable<Uint8Array>,
  options: OpenVideoOptions & { source?: string; frameCount?: number } = {},
): Promise<FrameSource> {
  checkOptions(options);
  const source = options.source ?? 'stdin';
  if (options.scale) throw new BadArgumentError(`${source}: scaling needs a file (ffmpeg reads it); scale before piping`);
  let started = false;
  return sourceOf(
    source,
    async () => {
      if (started) throw new BadArgumentError(`${source} is a stream: its frames can be read only once`);
      started = true;
      const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      return y4mPass(chunks, source, options.frameCount, options, async () => {
        await chunks.return?.();
      });
    },
    options,
  );
}

// --- PNG sequences

function pngSize(bytes: Uint8Array, path: string): { width: number; height: number } {
  // IHDR is the first chunk: signature (8) + length (4) + "IHDR" (4) + width (4) + height (4).
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) throw new NervError('BAD_INPUT', `${path} is not a PNG file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function decodePng(bytes: Buffer, path: string): RgbFrame {
  const { width, height } = pngSize(bytes, path);
  if (width === 0 || height === 0 || width > Y4M_LIMITS.maxDimension || height > Y4M_LIMITS.maxDimension || width * height > Y4M_LIMITS.maxPixels) {
    throw new NervError('BAD_INPUT', `${path}: PNG size ${width}x${height} is out of range`);
  }
  let png;
  try {
    png = PNG.sync.read(bytes); // 16-bit, grey and palette images come back as 8-bit RGBA
  } catch (cause) {
    throw new NervError('BAD_INPUT', `${path}: corrupt PNG (${(cause as Error).message})`, { cause });
  }
  return rgba8ToRgb(png.data, png.width, png.height);
}

async function openPngPass(source: string, files: string[], options: OpenVideoOptions): Promise<Pass> {
  const limit = Math.min(files.length, options.maxFrames ?? Infinity);
  let index = 0;
  let size: { width: number; height: number } | undefined;
  const next = async (): Promise<RgbFrame | null> => {
    if (index >= limit) return null;
    const path = files[index++];
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw new NervError('IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
    const frame = decodePng(bytes, path);
    size ??= { width: frame.width, height: frame.height };
    if (frame.width !== size.width || frame.height !== size.height) {
      throw new NervError('BAD_INPUT', `${path} is ${frame.width}x${frame.height}, but the sequence's first frame is ${size.width}x${size.height}`);
    }
    return frame;
  };
  const first = (await next())!;
  const info: VideoInfo = {
    width: first.width,
    height: first.height,
    fps: { ...(options.fps ?? { num: 25, den: 1 }) },
    colorSpace: options.colorSpace ?? 'bt601',
    frameCount: limit,
    source,
  };
  return { info, first, next, close: async () => {} };
}

// --- ffmpeg

interface FfmpegInput {
  ffmpeg: string;
  source: string;
  inputArgs: string[];
  pixFmt: string;
  options: OpenVideoOptions;
  colorSpace: ColorSpace;
  frameCount?: number;
  /** Files whose bytes are written to ffmpeg's stdin, in order. */
  feed?: string[];
}

interface Probe {
  pixFmt: string;
  colorSpace: ColorSpace;
  frameCount?: number;
}

/** Chroma format and matrix of the first video stream, via ffprobe next to ffmpeg; defaults without it. */
async function probeVideo(ffmpeg: string, path: string): Promise<Probe> {
  const fallback: Probe = { pixFmt: 'yuv420p', colorSpace: 'bt601' };
  const ffprobe = findFfmpeg(join(dirname(ffmpeg), basename(ffmpeg).replace(/ffmpeg/, 'ffprobe')));
  if (!ffprobe || ffprobe === ffmpeg) return fallback;
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt,color_space,nb_frames', '-of', 'json', path];
  const { code, stdout } = await runCapture(ffprobe, args);
  if (code !== 0) return fallback; // ffmpeg itself will report what is wrong with the file
  let stream: { pix_fmt?: string; color_space?: string; nb_frames?: string } | undefined;
  try {
    stream = JSON.parse(stdout).streams?.[0];
  } catch {
    return fallback;
  }
  if (!stream) throw new NervError('BAD_INPUT', `${path} has no video stream`);
  const fmt = stream.pix_fmt ?? '';
  // 4:4:4 and RGB sources keep full chroma; 4:2:2 stays 4:2:2; the rest (incl. 10-bit) becomes 8-bit 4:2:0.
  const pixFmt = /444|rgb|bgr|gbr|argb|rgba|abgr|bgra/.test(fmt) ? 'yuv444p' : /422/.test(fmt) ? 'yuv422p' : 'yuv420p';
  const colorSpace: ColorSpace = stream.color_space === 'bt709' ? 'bt709' : 'bt601';
  const frames = Number(stream.nb_frames);
  return { pixFmt, colorSpace, frameCount: Number.isInteger(frames) && frames > 0 ? frames : undefined };
}

function runCapture(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: stderr + error.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Keeps the tail of a child's stderr for error messages, on one line (errors are one line each) and
 * without ffmpeg's context pointers ("[NULL @ 0x55a7bdf20800] ").
 */
function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (d) => {
    text = (text + d).slice(-8192);
  });
  return () =>
    text
      .split('\n')
      .map((line) => line.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/, '').trim())
      .filter(Boolean)
      .join('; ');
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

async function openFfmpegPass(input: FfmpegInput): Promise<Pass> {
  const { options } = input;
  const args = ['-v', 'error', '-nostdin', ...input.inputArgs, '-map', '0:v:0'];
  if (options.maxFrames !== undefined) args.push('-frames:v', String(options.maxFrames));
  if (options.scale) args.push('-vf', `scale=${options.scale.width}:${options.scale.height}`);
  args.push('-pix_fmt', input.pixFmt, '-f', 'yuv4mpegpipe', 'pipe:1');
  const child = spawn(input.ffmpeg, args, { stdio: [input.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const stderr = collectStderr(child);
  const exit = exitOf(child);
  let stopping = false;
  if (input.feed) void feedFiles(child, input.feed);
  const chunks = child.stdout![Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const decoder = new Y4mDecoder({ colorSpace: input.colorSpace });
  const failure = async (error?: unknown): Promise<never> => {
    const status = await exit;
    if (status.error) {
      throw new NervError('NO_FFMPEG', `could not run ${input.ffmpeg}: ${status.error.message}`, { cause: status.error });
    }
    const detail = stderr() || (error instanceof Error ? error.message : `exit code ${status.code}`);
    throw new NervError('BAD_INPUT', `ffmpeg could not read ${input.source}: ${detail}`, { cause: error });
  };
  const next = async (): Promise<RgbFrame | null> => {
    let frame: RgbFrame | null;
    try {
      frame = await pullFrame(decoder, chunks);
    } catch (error) {
      if (stopping) return null;
      return failure(error); // a parse error on ffmpeg's output means ffmpeg failed mid-stream
    }
    if (!frame && !stopping) {
      const status = await exit;
      if (status.code !== 0) return failure();
    }
    return frame;
  };
  const close = async () => {
    if (!stopping) {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child.stdout?.destroy();
    }
    await exit;
  };
  try {
    const first = await next();
    if (!first) throw new NervError('BAD_INPUT', `${input.source} contains no video frames${stderr() ? `: ${stderr()}` : ''}`);
    const info = y4mVideoInfo(decoder.header()!, input.source, input.colorSpace);
    info.frameCount = capFrameCount(input.frameCount, options);
    return { info, first, next, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function feedFiles(child: ChildProcess, files: string[]): Promise<void> {
  const stdin = child.stdin!;
  stdin.on('error', () => {}); // ffmpeg exiting early (frame limit, error) closes the pipe; its exit status says why
  try {
    for (const file of files) {
      if (stdin.destroyed) return;
      if (!stdin.write(await readFile(file))) {
        await new Promise((resolve) => {
          stdin.once('drain', resolve);
          stdin.once('close', resolve);
        });
      }
    }
  } catch {
    // an unreadable file: ffmpeg then sees a short stream; stop feeding
  }
  stdin.end();
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes frames to `.y4m` (4:2:0 unless options.chroma), a PNG pattern (`out/%04d.png`, numbered
 * from 1 like ffmpeg, into the directory directly), a single `.png` (one frame), or any container
 * ffmpeg writes (Y4M piped to its stdin; libx264 for mp4). Files are written to a temporary name and
 * renamed, so a failure never leaves a half-written file under `path`. Returns the frame count.
 */
export async function writeVideo(
  path: string,
  info: VideoInfo,
  frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>,
  options: WriteVideoOptions = {},
): Promise<{ frames: number }> {
  const ext = extname(path).toLowerCase();
  if (options.format === 'y4m') return writeY4mFile(path, info, frames, options);
  if (PATTERN.test(basename(path))) {
    if (ext !== '.png') throw new BadArgumentError(`image patterns are written as PNG only: use e.g. ${dirname(path)}/%04d.png`);
    return writePngSequence(path, info, frames, options);
  }
  if (ext === '.png') return writeSinglePng(path, info, frames, options);
  if (ext === '.y4m') return writeY4mFile(path, info, frames, options);
  return writeWithFfmpeg(path, info, frames, options);
}

/**
 * Writes frames as Y4M to a stream (stdout), honouring back-pressure. A reader that goes away
 * (EPIPE: `| head`) is an IO error naming `target`. Returns the frame count.
 */
export async function writeY4mStream(
  stream: NodeJS.WritableStream,
  info: VideoInfo,
  frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>,
  options: WriteVideoOptions & { target?: string } = {},
): Promise<{ frames: number }> {
  const target = options.target ?? 'stdout';
  const encoder = new Y4mEncoder(info, { chroma: options.chroma });
  let failure: Error | undefined;
  const onError = (error: Error) => (failure ??= error);
  stream.on('error', onError);
  const write = async (bytes: Uint8Array) => {
    if (failure) throw failure;
    if (!stream.write(bytes)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
      });
    }
    if (failure) throw failure;
  };
  let count: number;
  try {
    count = await writeY4mFrames(encoder, info, frames, write);
  } catch (error) {
    if (error instanceof NervError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'EPIPE' ? 'the reader closed the pipe' : (error as Error).message;
    throw new NervError('IO', `cannot write ${target}: ${reason}`, { cause: error });
  } finally {
    stream.off('error', onError);
  }
  if (count === 0) throw new BadArgumentError(`no frames to write to ${target}`);
  return { frames: count };
}

/** The Y4M header, then every frame checked and encoded, through `write`; returns the frame count. */
async function writeY4mFrames(
  encoder: Y4mEncoder,
  info: VideoInfo,
  frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>,
  write: (bytes: Uint8Array) => Promise<unknown>,
): Promise<number> {
  await write(encoder.header);
  let count = 0;
  for await (const frame of frames) {
    checkFrame(frame, info, count);
    await write(encoder.frame(frame));
    count++;
  }
  return count;
}

function checkFrame(frame: RgbFrame, info: VideoInfo, index: number): void {
  assertRgbFrame(frame, `frame ${index}`);
  if (frame.width !== info.width || frame.height !== info.height) {
    throw new BadArgumentError(`frame ${index} is ${frame.width}x${frame.height}, the video is ${info.width}x${info.height}`);
  }
}

async function ensureParent(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (cause) {
    throw new NervError('IO', `cannot create directory ${dirname(path)}: ${(cause as Error).message}`, { cause });
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}

async function writeY4mFile(path: string, info: VideoInfo, frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>, options: WriteVideoOptions) {
  const encoder = new Y4mEncoder(info, { chroma: options.chroma });
  await ensureParent(path);
  const { temp, release } = tempPathFor(path, true);
  let file;
  try {
    file = await open(temp, 'w');
  } catch (cause) {
    throw new NervError('IO', `cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const handle = file;
    const count = await writeY4mFrames(encoder, info, frames, (bytes) => handle.write(bytes));
    if (count === 0) throw new BadArgumentError(`no frames to write to ${path}`);
    await file.close();
    file = undefined;
    await commitTempFile(temp, path, options.overwrite ?? true);
    return { frames: count };
  } catch (error) {
    await file?.close().catch(() => {});
    await removeQuietly(temp);
    if (error instanceof NervError) throw error;
    throw new NervError('IO', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    release();
  }
}

function encodePng(frame: RgbFrame): Buffer {
  const png = new PNG({ width: frame.width, height: frame.height });
  png.data = Buffer.from(rgbToRgba8(frame).buffer);
  return PNG.sync.write(png, { colorType: 2 });
}

async function writeAtomically(path: string, bytes: Uint8Array, overwrite = true): Promise<void> {
  const { temp, release } = tempPathFor(path, true);
  try {
    await writeFile(temp, bytes);
    await commitTempFile(temp, path, overwrite);
  } catch (cause) {
    await removeQuietly(temp);
    if (cause instanceof NervError) throw cause;
    throw new NervError('IO', `cannot write ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    release();
  }
}

async function writePngSequence(pattern: string, info: VideoInfo, frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>, options: WriteVideoOptions) {
  await ensureParent(pattern);
  let count = 0;
  for await (const frame of frames) {
    checkFrame(frame, info, count);
    await writeAtomically(formatPattern(pattern, count + 1), encodePng(frame), options.overwrite);
    count++;
  }
  if (count === 0) throw new BadArgumentError(`no frames to write to ${pattern}`);
  return { frames: count };
}

async function writeSinglePng(path: string, info: VideoInfo, frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>, options: WriteVideoOptions) {
  let only: RgbFrame | undefined;
  for await (const frame of frames) {
    if (only) throw new BadArgumentError(`${path} holds one frame; for a sequence use a pattern like ${join(dirname(path), '%04d.png')}`);
    checkFrame(frame, info, 0);
    only = frame;
  }
  if (!only) throw new BadArgumentError(`no frames to write to ${path}`);
  await ensureParent(path);
  await writeAtomically(path, encodePng(only), options.overwrite);
  return { frames: 1 };
}

const DEFAULT_CODECS: Record<string, string> = {
  '.mp4': 'libx264',
  '.m4v': 'libx264',
  '.mov': 'libx264',
  '.mkv': 'libx264',
  '.webm': 'libvpx-vp9',
};

async function writeWithFfmpeg(path: string, info: VideoInfo, frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>, options: WriteVideoOptions) {
  const ext = extname(path).toLowerCase();
  const ffmpeg = requireFfmpeg(`writing ${ext || 'this'} files (${path})`, options.ffmpeg);
  const codec = options.codec ?? DEFAULT_CODECS[ext];
  if ((info.width % 2 || info.height % 2) && codec !== undefined && /264|265|hevc|vpx|av1/.test(codec)) {
    throw new BadArgumentError(
      `${codec} with 4:2:0 needs an even width and height, the video is ${info.width}x${info.height}; ` +
        'scale it to an even size, or write .y4m / PNG instead',
    );
  }
  // Limited range, matching the -color_range tag below.
  const encoder = new Y4mEncoder({ ...info, colorRange: 'limited' }, { chroma: '420' });
  await ensureParent(path);
  const { temp, release } = tempPathFor(path, true);
  // ffmpeg names the file it was given; users should see the name they gave.
  const ffmpegText = () => stderr().replaceAll(temp, path);
  const matrix = info.colorSpace === 'bt709' ? ['bt709', 'bt709', 'bt709'] : ['smpte170m', 'smpte170m', 'smpte170m'];
  const args = ['-v', 'error', '-nostdin', '-y', '-f', 'yuv4mpegpipe', '-i', 'pipe:0'];
  if (codec) args.push('-c:v', codec);
  if (options.crf !== undefined) args.push('-crf', String(options.crf));
  args.push('-pix_fmt', 'yuv420p', '-colorspace', matrix[0], '-color_primaries', matrix[1], '-color_trc', matrix[2], '-color_range', 'tv', temp);
  const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr = collectStderr(child);
  const exit = exitOf(child);
  const stdin = child.stdin!;
  let pipeBroken = false;
  stdin.on('error', () => (pipeBroken = true));
  const write = async (bytes: Uint8Array) => {
    if (pipeBroken || stdin.destroyed) throw new NervError('IO', `ffmpeg stopped reading while writing ${path}`);
    if (!stdin.write(bytes)) {
      await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), exit]);
    }
  };
  try {
    const count = await writeY4mFrames(encoder, info, frames, write);
    if (count === 0) throw new BadArgumentError(`no frames to write to ${path}`);
    stdin.end();
    const status = await exit;
    if (status.error) throw new NervError('NO_FFMPEG', `could not run ${ffmpeg}: ${status.error.message}`, { cause: status.error });
    if (status.code !== 0) throw new NervError('IO', `ffmpeg could not write ${path}: ${ffmpegText() || `exit code ${status.code}`}`);
    await commitTempFile(temp, path, options.overwrite ?? true);
    return { frames: count };
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const status = await exit;
    await removeQuietly(temp);
    if (error instanceof BadArgumentError || !stderr()) {
      if (error instanceof NervError) throw error;
      throw new NervError('IO', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    throw new NervError('IO', `ffmpeg could not write ${path}: ${ffmpegText()}${status.code ? ` (exit code ${status.code})` : ''}`, { cause: error });
  } finally {
    release();
  }
}
