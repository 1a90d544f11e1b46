import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { encodeFrames, ENCODE_DEFAULTS, PRESETS, type Preset } from '../encode/encode.ts';
import { DEFAULT_SCHEDULE } from '../train/trainer.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { openVideo, openY4mStream } from '../video/node-io.ts';
import type { FrameSource } from '../video/frame.ts';
import { NervError } from '../errors.ts';
import { inputAndOutput, naming, STDIO, type InOutFlags } from './files.ts';
import { addInterruptNote, setInterruptProgress } from './interrupt.ts';
import { progressReporter } from './progress.ts';
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
}

export async function encodeCommand(inputArg: string | undefined, outputArg: string | undefined, flags: EncodeFlags): Promise<void> {
  if ((outputArg ?? flags.output) === STDIO && flags.json) throw new UsageError('--json and -o - both write to stdout: keep one');
  // Everything that could fail at the end is checked before a frame is read.
  const { input, output } = await inputAndOutput(inputArg, outputArg, flags, '.nerv data');
  const source = await openSource(input, flags);
  try {
    const ctx = new GpuContext(await requestGpuDevice());
    const preset = PRESETS[flags.preset];
    const keySteps = flags.steps ?? preset.keySteps;
    const laterSteps = flags.laterSteps ?? preset.laterSteps;
    const { width, height, frameCount } = source.info;
    const targetBytes = flags.size ?? (flags.bpp === undefined ? undefined : bytesForBpp(flags.bpp, width, height, frameCount));
    const groups = frameCount ? Math.ceil(frameCount / flags.group) : undefined;
    const stepsOf = (k: number) => (k % flags.keyInterval === 0 ? keySteps : laterSteps);
    const progress = progressReporter({ interactive: !!process.stderr.isTTY, quiet: !!flags.json, groups, stepsOf });
    const outputName = output === STDIO ? 'stdout' : output;
    setInterruptProgress(() => `after ${progress.groupsDone()}${groups ? ` of ${groups}` : ''} groups`);
    addInterruptNote(() => `nothing was written to ${outputName}`);
    progress.note(
      `encoding ${input === STDIO ? 'stdin' : input}: ${width}x${height}, ${frameCount ?? 'unknown number of'} frames` +
        `${groups ? ` in ${groups} group${groups > 1 ? 's' : ''}` : ''}, on ${describeAdapter()}`,
    );
    const started = performance.now();
    const result = await encodeFrames(ctx, source.frames(), {
      groupSize: flags.group,
      profile: flags.profile,
      keyInterval: flags.keyInterval,
      preset: flags.preset,
      steps: keySteps,
      laterSteps,
      lambda: flags.lambda ?? (targetBytes === undefined && flags.psnr === undefined ? ENCODE_DEFAULTS.lambda : undefined),
      targetPsnr: flags.psnr,
      targetBytes,
      expectedFrames: frameCount,
      seed: flags.seed,
      fps: source.info.fps,
      colorSpace: source.info.colorSpace,
      colorRange: source.info.colorRange,
      learningRates: flags.lrScale ? { latents: DEFAULT_SCHEDULE.lr.latents * flags.lrScale, networks: DEFAULT_SCHEDULE.lr.networks * flags.lrScale } : undefined,
      onProgress: progress.update,
    });
    progress.stop();
    if (output === STDIO) process.stdout.write(result.bytes);
    else await writeFileAtomic(output, result.bytes, { overwrite: flags.yes === true });
    const seconds = (performance.now() - started) / 1000;
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
      adapter: describeAdapter(),
      parameterCount: result.parameterCount,
      macsPerPixel: result.macsPerPixel,
      targets: result.targets,
      warnings: result.warnings,
      groups: result.groups.map((g) => ({
        frames: g.frames, key: g.key, steps: g.steps, seconds: g.seconds, lambda: g.lambda, search: g.search, psnr: g.psnr, psnrRgb: g.psnrRgb,
        latentBytes: g.latentBytes, networkBytes: g.networkBytes,
      })),
    };
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      const metric = result.model.colour === 'yuv420' ? `PSNR ${summary.psnr.toFixed(2)} dB YUV (${summary.psnrRgb.toFixed(2)} dB RGB)` : `PSNR ${summary.psnr.toFixed(2)} dB`;
      process.stderr.write(
        `wrote ${outputName}: ${summary.bytes} bytes, ${summary.bpp.toFixed(4)} bpp, ${metric}, ` +
          `${summary.frames} frames ${summary.width}x${summary.height} in ${seconds.toFixed(1)} s\n`,
      );
    }
    for (const warning of result.warnings) process.stderr.write(`nervkit: warning: ${warning}\n`);
  } finally {
    await source.close();
  }
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
