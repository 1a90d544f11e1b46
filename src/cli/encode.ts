import { SingleBar } from 'cli-progress';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { encodeFrames, type EncodeProgress } from '../encode/encode.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { openVideo } from '../video/node-io.ts';
import { NervError } from '../errors.ts';

export interface EncodeFlags {
  input: string;
  output: string;
  frames?: number;
  scale?: { width: number; height: number };
  psnr?: number;
  size?: number;
  bpp?: number;
  quantLoss: number;
  steps: number;
  laterSteps?: number;
  group: number;
  profile: string;
  keyInterval: number;
  seed: number;
  json?: boolean;
}

export async function encodeCommand(flags: EncodeFlags): Promise<void> {
  const source = await openVideo(flags.input, { maxFrames: flags.frames, scale: flags.scale });
  try {
    const ctx = new GpuContext(await requestGpuDevice());
    const laterSteps = flags.laterSteps ?? Math.ceil(flags.steps / 3);
    const frameCount = source.info.frameCount;
    const targetBytes = flags.size ?? (flags.bpp === undefined ? undefined : bytesForBpp(flags.bpp, source.info.width, source.info.height, frameCount));
    const groups = frameCount ? Math.ceil(frameCount / flags.group) : undefined;
    const progress = progressReporter(flags, groups, laterSteps);
    const started = performance.now();
    const result = await encodeFrames(ctx, source.frames(), {
      groupSize: flags.group,
      profile: flags.profile,
      keyInterval: flags.keyInterval,
      steps: flags.steps,
      laterSteps,
      targetPsnr: flags.psnr,
      targetBytes,
      expectedFrames: frameCount,
      quantizationLossDb: flags.quantLoss,
      seed: flags.seed,
      fps: source.info.fps,
      colorSpace: source.info.colorSpace,
      onProgress: progress.update,
    });
    progress.stop();
    await writeFileAtomic(flags.output, result.bytes);
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      output: flags.output,
      bytes: result.bytes.length,
      bpp: result.bpp,
      psnr: result.psnr,
      frames: result.frameCount,
      width: result.model.width,
      height: result.model.height,
      seconds,
      parameterCount: result.parameterCount,
      macsPerPixel: result.macsPerPixel,
      groups: result.groups.map((g) => ({
        frames: g.frames, key: g.key, steps: g.steps, seconds: g.trainSeconds, floatPsnr: g.floatPsnr, psnr: g.psnr,
      })),
    };
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stderr.write(
        `wrote ${flags.output}: ${summary.bytes} bytes, ${summary.bpp.toFixed(4)} bpp, PSNR ${summary.psnr.toFixed(2)} dB, ` +
          `${summary.frames} frames ${summary.width}x${summary.height} in ${seconds.toFixed(1)} s\n`,
      );
    }
  } finally {
    await source.close();
  }
}

function bytesForBpp(bpp: number, width: number, height: number, frames: number | undefined): number {
  if (!frames) throw new NervError('BAD_INPUT', '--bpp needs to know how many frames the input has: pass --frames N');
  return Math.round((bpp * width * height * frames) / 8);
}

/** A progress bar on a terminal; one plain line per group (and every few hundred steps) otherwise. */
function progressReporter(flags: EncodeFlags, groups: number | undefined, laterSteps: number) {
  const interactive = process.stderr.isTTY && !flags.json;
  const firstGroupWork = flags.steps + Math.max(20, Math.ceil(flags.steps / 4));
  const total = groups ? firstGroupWork + (groups - 1) * laterSteps : undefined;
  const done = (event: EncodeProgress) => (event.group === 0 ? 0 : firstGroupWork + (event.group - 1) * laterSteps);
  let firstPhaseSteps = 0;
  const bar = interactive
    ? new SingleBar({
        format: 'group {group} |{bar}| {percentage}% | step {step} | {psnr} dB | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 50,
        stream: process.stderr,
      })
    : undefined;
  bar?.start(total ?? 1, 0, { group: '1', step: 0, psnr: '--' });
  let lastLine = 0;
  return {
    update(event: EncodeProgress) {
      if (event.group === 0 && event.phase === 'quantize') firstPhaseSteps = flags.steps;
      const position = done(event) + (event.group === 0 ? firstPhaseSteps : 0) + event.step;
      const groupLabel = groups ? `${event.group + 1}/${groups}` : `${event.group + 1}`;
      if (bar) {
        if (!total) bar.setTotal(position + laterSteps);
        bar.update(position, { group: groupLabel, step: event.step, psnr: Number.isFinite(event.psnr) ? event.psnr.toFixed(2) : '--' });
      } else if (!flags.json && (event.phase === 'done' || performance.now() - lastLine > 10000)) {
        lastLine = performance.now();
        const what =
          event.phase === 'done' ? 'done, decoded PSNR'
          : event.phase === 'quantize' ? 'quantization steps chosen, float PSNR'
          : `step ${event.step}/${event.steps}, PSNR`;
        process.stderr.write(`group ${groupLabel}: ${what} ${event.psnr.toFixed(2)} dB\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
