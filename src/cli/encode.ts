import { resolve } from 'node:path';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { encodeFrames, ENCODE_DEFAULTS, PRESETS, type EncodeProgress, type EncodeResult, type Preset } from '../encode/encode.ts';
import { DEFAULT_SCHEDULE } from '../train/trainer.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { NERV_VERSION } from '../format/nerv.ts';
import { isUrl, openVideo, openY4mStream } from '../video/node-io.ts';
import type { FrameSource } from '../video/frame.ts';
import { NervError } from '../errors.ts';
import { decideLambda, encodeSegment } from '../segment/encode.ts';
import { encodeLocally } from '../segment/local.ts';
import { withFixedLambda, type SegmentSettings } from '../segment/params.ts';
import { framesOf, segmentAt, segmentOfFrames } from '../segment/plan.ts';
import { inputIdentity, type PartsDirectory } from '../segment/workdir.ts';
import { inputAndOutput, naming, STDIO, type InOutFlags } from './files.ts';
import { addInterruptNote, onInterrupt, setInterruptProgress } from './interrupt.ts';
import { progressReporter, type ProgressReporter } from './progress.ts';
import { UsageError } from './errors.ts';
import { describeAdapter } from '../gpu/node.ts';

export interface EncodeFlags extends InOutFlags {
  frames?: number;
  scale?: { width: number; height: number };
  psnr?: number;
  size?: number;
  bpp?: number;
  lambda?: number;
  preset: Preset;
  steps?: number;
  laterSteps?: number;
  lrScale?: number;
  group: number;
  profile: string;
  keyInterval: number;
  seed: number;
  json?: boolean;
  segment?: number;
  framesFrom?: number;
  framesTo?: number;
  resume?: boolean;
  redis?: string;
  queue?: string;
}

/** What a way of encoding hands back for the summary; `written`: it wrote the output itself. */
interface Encoded {
  result: EncodeResult;
  written?: boolean;
  extra?: Record<string, unknown>;
}

/**
 * Four ways to encode. File to file on this machine goes segment by segment, keeping finished
 * segments for --resume; stdin or stdout goes in one go; both search lambda group by group for a
 * size or PSNR target and give the same bytes. One segment (--segment, --frames-from/--frames-to)
 * and a BullMQ queue (--redis) fix lambda for the whole video (a target decides it on the first
 * group), so that segments encoded anywhere fit together.
 */
export async function encodeCommand(
  inputArg: string | undefined,
  outputArg: string | undefined,
  flags: EncodeFlags,
  argv: readonly string[] = [],
): Promise<void> {
  const outputArgument = outputArg ?? flags.output;
  if (outputArgument === STDIO && flags.json) throw new UsageError('--json and -o - both write to stdout: keep one');
  const segmented = flags.segment !== undefined || flags.framesFrom !== undefined || flags.framesTo !== undefined;
  const rereads = segmented
    ? '--segment and --frames-from/--frames-to read the input twice'
    : flags.redis
      ? 'with --redis the workers read the input'
      : flags.resume
        ? '--resume reads the input again'
        : undefined;
  if ((inputArg ?? flags.input) === STDIO && rereads) throw new UsageError(`${rereads}: give a video file, not stdin`);
  if (outputArgument === STDIO && flags.resume) throw new UsageError('--resume keeps its work next to the output file: name one, not -o -');
  // Everything that could fail at the end is checked before a frame is read.
  const { input, output } = await inputAndOutput(inputArg, outputArg, flags, '.nerv data');
  const source = await openSource(input, flags);
  try {
    const outputName = output === STDIO ? 'stdout' : output;
    addInterruptNote(() => `nothing was written to ${outputName}`);
    const started = performance.now();
    let encoded: Encoded;
    if (flags.redis) {
      const videoFrames = await frameCountOf(source);
      const { submitCommand } = await import('./submit.ts'); // loads BullMQ only when asked to
      // Workers read the input themselves: a URL as it is, a path made absolute (for a shared file system).
      const where = { input: isUrl(input) ? input : resolve(input), maxFrames: flags.frames, scale: flags.scale };
      encoded = await submitCommand(flags, where, settingsOf(flags, source, videoFrames), videoFrames);
    } else {
      const ctx = new GpuContext(await requestGpuDevice());
      if (segmented) encoded = await encodeOneSegment(ctx, source, flags, input);
      else if (input !== STDIO && output !== STDIO) encoded = await encodeResumably(ctx, source, flags, input, output, argv);
      else encoded = await encodeInOneGo(ctx, source, flags, input);
    }
    if (output === STDIO) process.stdout.write(encoded.result.bytes);
    else if (!encoded.written) await writeFileAtomic(output, encoded.result.bytes, { overwrite: flags.yes === true });
    report(flags, outputName, encoded, (performance.now() - started) / 1000);
  } finally {
    await source.close();
  }
}

/** The settings every segment of this encode shares (steps resolved from the preset). */
function settingsOf(flags: EncodeFlags, source: FrameSource, videoFrames: number | undefined): SegmentSettings {
  const preset = PRESETS[flags.preset];
  const { width, height } = source.info;
  const targetBytes = flags.size ?? (flags.bpp === undefined ? undefined : bytesForBpp(flags.bpp, width, height, videoFrames));
  return {
    profile: flags.profile,
    groupSize: flags.group,
    keyInterval: flags.keyInterval,
    steps: flags.steps ?? preset.keySteps,
    laterSteps: flags.laterSteps ?? preset.laterSteps,
    seed: flags.seed,
    lambda: flags.lambda ?? (targetBytes === undefined && flags.psnr === undefined ? ENCODE_DEFAULTS.lambda : undefined),
    targetBytes,
    targetPsnr: flags.psnr,
    learningRates: flags.lrScale ? { latents: DEFAULT_SCHEDULE.lr.latents * flags.lrScale, networks: DEFAULT_SCHEDULE.lr.networks * flags.lrScale } : undefined,
    fps: source.info.fps,
    colorSpace: source.info.colorSpace,
    colorRange: source.info.colorRange ?? 'limited',
  };
}

/** Planned training steps of group k (key groups train longer). */
function stepsOfGroup(settings: SegmentSettings): (k: number) => number {
  return (k) => (k % settings.keyInterval === 0 ? settings.steps : settings.laterSteps);
}

function startProgress(flags: EncodeFlags, settings: SegmentSettings, groups: number | undefined, label: string): ProgressReporter {
  const progress = progressReporter({ interactive: !!process.stderr.isTTY, quiet: !!flags.json, groups, stepsOf: stepsOfGroup(settings) });
  setInterruptProgress(() => `after ${progress.groupsDone()}${groups ? ` of ${groups}` : ''} groups${label}`);
  return progress;
}

function announce(progress: ProgressReporter, input: string, source: FrameSource, frames: number | undefined, groups: number | undefined, how = ''): void {
  const { width, height } = source.info;
  progress.note(
    `encoding ${input === STDIO ? 'stdin' : input}: ${width}x${height}, ${frames ?? 'unknown number of'} frames` +
      `${groups ? ` in ${groups} group${groups > 1 ? 's' : ''}` : ''}${how}, on ${describeAdapter()}`,
  );
}

/** Through stdin or stdout: one pass, nothing kept on the way. */
async function encodeInOneGo(ctx: GpuContext, source: FrameSource, flags: EncodeFlags, input: string): Promise<Encoded> {
  const frameCount = source.info.frameCount;
  const settings = settingsOf(flags, source, frameCount);
  const groups = frameCount ? Math.ceil(frameCount / flags.group) : undefined;
  const progress = startProgress(flags, settings, groups, '');
  announce(progress, input, source, frameCount, groups);
  const result = await encodeFrames(ctx, source.frames(), { ...settings, expectedFrames: frameCount, onProgress: progress.update });
  progress.stop();
  return { result };
}

/** File to file: segment by segment, finished segments kept in OUT.parts/ until the output is written. */
async function encodeResumably(
  ctx: GpuContext,
  source: FrameSource,
  flags: EncodeFlags,
  input: string,
  output: string,
  argv: readonly string[],
): Promise<Encoded> {
  const videoFrames = await frameCountOf(source);
  const settings = settingsOf(flags, source, videoFrames);
  const groups = Math.ceil(videoFrames / flags.group);
  const progress = startProgress(flags, settings, groups, '');
  const identity = { input: await inputIdentity(input), frames: flags.frames, scale: flags.scale, videoFrames, format: NERV_VERSION, ...settings };
  let parts: PartsDirectory | undefined;
  let segments = 0;
  let resumedGroups = 0;
  setInterruptProgress(() => `after ${Math.max(progress.groupsDone(), resumedGroups)} of ${groups} groups`);
  onInterrupt(() => parts?.removeIfEmptySync());
  addInterruptNote(() =>
    parts?.finishedCount ? `${parts.finishedCount} of ${segments} segments are kept in ${parts.path}; continue with: ${resumeCommand(argv)}` : undefined,
  );
  const result = await encodeLocally(ctx, source.frames(), {
    output,
    overwrite: flags.yes === true,
    settings,
    videoFrames,
    identity,
    resume: flags.resume === true,
    onProgress: progress.update,
    onSegment: (event) => {
      parts = event.parts;
      segments = event.segments;
      if (event.index !== undefined) {
        if (event.index < event.segments - 1) progress.note(`segment ${event.index + 1}/${event.segments} done (kept in ${event.parts.path})`);
        return;
      }
      const how = event.segments > 1 ? `, ${event.segments} segments` : '';
      announce(progress, input, source, videoFrames, groups, how);
      resumedGroups = Math.ceil(Math.min(videoFrames, event.done * flags.group * flags.keyInterval) / flags.group);
      if (event.done > 0) progress.note(`resuming: ${event.done} of ${event.segments} segments already done in ${event.parts.path}`);
      else if (flags.resume) progress.note(`nothing to resume in ${event.parts.path}: encoding from the start`);
    },
  });
  progress.stop();
  return { result, written: true };
}

/** One segment, for `nervkit join`: lambda fixed for the whole video (a target decides it on the first group, the same way on every machine). */
async function encodeOneSegment(ctx: GpuContext, source: FrameSource, flags: EncodeFlags, input: string): Promise<Encoded> {
  const videoFrames = await frameCountOf(source);
  const settings = settingsOf(flags, source, videoFrames);
  const range =
    flags.segment !== undefined
      ? segmentAt(flags.segment, videoFrames, flags.group, flags.keyInterval)
      : segmentOfFrames(flags.framesFrom ?? 0, flags.framesTo, videoFrames, flags.group, flags.keyInterval);
  let lambda = settings.lambda;
  if (lambda === undefined) {
    const deciding = startProgress(flags, settings, 1, ' (deciding lambda)');
    deciding.note(`deciding lambda on ${input}'s first group (every segment of this video decides the same)`);
    lambda = await decideLambda(ctx, source.frames(), settings, videoFrames, deciding.update);
    deciding.stop();
  }
  const firstGroup = range.firstFrame / flags.group;
  const groups = Math.ceil(range.frameCount / flags.group);
  const progress = startProgress(flags, settings, groups, '');
  const last = range.firstFrame + range.frameCount - 1;
  announce(progress, input, source, range.frameCount, groups, ` (frames ${range.firstFrame}..${last} of ${videoFrames}, lambda ${lambda})`);
  const result = await encodeSegment(ctx, framesOf(source.frames(), range.firstFrame, range.frameCount), {
    range,
    videoFrames,
    settings: withFixedLambda(settings, lambda),
    // The bar counts this segment's groups.
    onProgress: (event: EncodeProgress) => progress.update({ ...event, group: event.group - firstGroup }),
  });
  progress.stop();
  return { result, extra: { segment: { ...range, videoFrames } } };
}

/** The command that continues an interrupted encode: the same one, with --resume. */
function resumeCommand(argv: readonly string[]): string {
  const args = argv.includes('--resume') ? argv : [...argv, '--resume'];
  return `nervkit ${args.map(shellWord).join(' ')}`;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Segments need the whole video's frame count: inputs that do not say are counted first. */
async function frameCountOf(source: FrameSource): Promise<number> {
  if (source.info.frameCount !== undefined) return source.info.frameCount;
  let count = 0;
  for await (const _ of source.frames()) count++;
  return count;
}

function report(flags: EncodeFlags, outputName: string, encoded: Encoded, seconds: number): void {
  const { result } = encoded;
  const summary = {
    output: outputName,
    bytes: result.bytes.length,
    bpp: result.bpp,
    psnr: result.psnr,
    psnrRgb: result.psnrRgb,
    psnrYuv: result.psnrYuv,
    colour: result.model.colour,
    lambda: result.lambda,
    frames: result.frameCount,
    width: result.model.width,
    height: result.model.height,
    seconds,
    adapter: flags.redis ? undefined : describeAdapter(),
    parameterCount: result.parameterCount,
    macsPerPixel: result.macsPerPixel,
    targets: result.targets,
    warnings: result.warnings,
    groups: result.groups.map((g) => ({
      frames: g.frames,
      key: g.key,
      steps: g.steps,
      seconds: g.seconds,
      lambda: g.lambda,
      search: g.search,
      psnr: g.psnr,
      psnrRgb: g.psnrRgb,
      latentBytes: g.latentBytes,
      networkBytes: g.networkBytes,
    })),
    ...encoded.extra,
  };
  if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    const metric =
      result.model.colour === 'yuv420' ? `PSNR ${summary.psnr.toFixed(2)} dB YUV (${summary.psnrRgb.toFixed(2)} dB RGB)` : `PSNR ${summary.psnr.toFixed(2)} dB`;
    process.stderr.write(
      `wrote ${outputName}: ${summary.bytes} bytes, ${summary.bpp.toFixed(4)} bpp, ${metric}, ` +
        `${summary.frames} frames ${summary.width}x${summary.height} in ${seconds.toFixed(1)} s\n`,
    );
  }
  for (const warning of result.warnings) process.stderr.write(`nervkit: warning: ${warning}\n`);
}

async function openSource(input: string, flags: EncodeFlags): Promise<FrameSource> {
  try {
    if (input === STDIO) return await openY4mStream(process.stdin, { maxFrames: flags.frames, scale: flags.scale, source: 'stdin' });
    return await openVideo(input, { maxFrames: flags.frames, scale: flags.scale });
  } catch (error) {
    throw naming(input, error);
  }
}

function bytesForBpp(bpp: number, width: number, height: number, frames: number | undefined): number {
  if (!frames) throw new NervError('BAD_INPUT', '--bpp needs to know how many frames the input has: pass --frames N');
  return Math.round((bpp * width * height * frames) / 8);
}
