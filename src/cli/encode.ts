import { SingleBar } from 'cli-progress';
import { GpuContext } from '../gpu/context.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { encodeFrames, ENCODE_DEFAULTS, PRESETS, type EncodeProgress, type Preset } from '../encode/encode.ts';
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
  lambda?: number;
  preset: Preset;
  steps?: number;
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
    const frameCount = source.info.frameCount;
    const targetBytes = flags.size ?? (flags.bpp === undefined ? undefined : bytesForBpp(flags.bpp, source.info.width, source.info.height, frameCount));
    const preset = PRESETS[flags.preset];
    const keySteps = flags.steps ?? preset.keySteps;
    const laterSteps = flags.laterSteps ?? preset.laterSteps;
    const groups = frameCount ? Math.ceil(frameCount / flags.group) : undefined;
    const progress = progressReporter(flags, groups, (k) => (k % flags.keyInterval === 0 ? keySteps : laterSteps));
    const started = performance.now();
    const result = await encodeFrames(ctx, source.frames(), {
      groupSize: flags.group,
      profile: flags.profile,
      keyInterval: flags.keyInterval,
      preset: flags.preset,
      steps: keySteps,
      laterSteps,
      lambda: flags.lambda ?? (targetBytes === undefined && flags.psnr === undefined ? ENCODE_DEFAULTS.lambda : undefined),
      targetBytes,
      targetPsnr: flags.psnr,
      expectedFrames: frameCount,
      seed: flags.seed,
      fps: source.info.fps,
      colorSpace: source.info.colorSpace,
      colorRange: source.info.colorRange,
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
      psnrRgb: result.psnrRgb,
      psnrYuv: result.psnrYuv,
      colour: result.model.colour,
      lambda: result.lambda,
      frames: result.frameCount,
      width: result.model.width,
      height: result.model.height,
      seconds,
      parameterCount: result.parameterCount,
      macsPerPixel: result.macsPerPixel,
      targets: result.targets,
      groups: result.groups.map((g) => ({
        frames: g.frames, key: g.key, steps: g.steps, seconds: g.seconds, lambda: g.lambda, psnr: g.psnr, psnrRgb: g.psnrRgb,
        latentBytes: g.latentBytes, networkBytes: g.networkBytes,
      })),
    };
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      const metric = result.model.colour === 'yuv420' ? `PSNR ${summary.psnr.toFixed(2)} dB YUV (${summary.psnrRgb.toFixed(2)} dB RGB)` : `PSNR ${summary.psnr.toFixed(2)} dB`;
      process.stderr.write(
        `wrote ${flags.output}: ${summary.bytes} bytes, ${summary.bpp.toFixed(4)} bpp, ${metric}, ` +
          `${summary.frames} frames ${summary.width}x${summary.height} in ${seconds.toFixed(1)} s\n`,
      );
      for (const warning of result.warnings) process.stderr.write(`nervkit: warning: ${warning}\n`);
    }
  } finally {
    await source.close();
  }
}

function bytesForBpp(bpp: number, width: number, height: number, frames: number | undefined): number {
  if (!frames) throw new NervError('BAD_INPUT', '--bpp needs to know how many frames the input has: pass --frames N');
  return Math.round((bpp * width * height * frames) / 8);
}

/**
 * One progress bar for the whole encode (a plain line every 10 s when stderr is not a terminal).
 * Work is counted in training steps (every group's planned steps, search passes included as they
 * happen), and the ETA comes from the measured time per step, not the bar library's guess.
 */
function progressReporter(flags: EncodeFlags, groups: number | undefined, stepsOf: (group: number) => number) {
  const interactive = process.stderr.isTTY && !flags.json;
  let extra = 0;
  const planned = (k: number) => Array.from({ length: k }, (_, g) => stepsOf(g)).reduce((a, b) => a + b, 0);
  const total = () => (groups ? planned(groups) : planned(1)) + extra;
  const bar = interactive
    ? new SingleBar({
        format: '{phase} group {group} |{bar}| {percentage}% | {psnr} dB {bpp} bpp | elapsed {elapsed} | ETA {eta}',
        hideCursor: true,
        stream: process.stderr,
      })
    : undefined;
  const started = performance.now();
  let done = 0;
  let lastLine = started;
  let lastGroup = -1;
  let groupBase = 0;
  bar?.start(total(), 0, { phase: 'training', group: '1', psnr: '--', bpp: '--', elapsed: '0s', eta: '--' });
  return {
    update(event: EncodeProgress) {
      if (event.group !== lastGroup) {
        groupBase = planned(event.group) + extra;
        lastGroup = event.group;
      }
      if (event.phase === 'search') {
        // A rate-control pass re-trains the group: more work than planned.
        extra += event.steps;
        groupBase += event.steps;
      }
      done = Math.max(done, groupBase + Math.min(event.step, event.steps));
      const elapsed = (performance.now() - started) / 1000;
      const eta = done > 0 ? ((total() - done) * elapsed) / done : NaN;
      const groupLabel = groups ? `${event.group + 1}/${groups}` : `${event.group + 1}`;
      const phase = { train: 'training', search: 'rate search', quantize: 'quantizing', done: 'coded' }[event.phase];
      if (bar) {
        bar.setTotal(total());
        bar.update(done, {
          phase, group: groupLabel, psnr: event.psnr.toFixed(2), bpp: event.bpp.toFixed(3),
          elapsed: formatSeconds(elapsed), eta: Number.isFinite(eta) ? formatSeconds(eta) : '--',
        });
      } else if (!flags.json && (event.phase === 'done' || performance.now() - lastLine >= 10000)) {
        lastLine = performance.now();
        const what = event.phase === 'done' ? 'coded' : `${phase}, step ${event.step}/${event.steps}`;
        process.stderr.write(
          `group ${groupLabel}: ${what}, ${event.psnr.toFixed(2)} dB, ${event.bpp.toFixed(3)} bpp; ${Math.round((100 * done) / total())}% after ${formatSeconds(elapsed)}` +
            `${Number.isFinite(eta) ? `, about ${formatSeconds(eta)} left` : ''}\n`,
        );
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
