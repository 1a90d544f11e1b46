// `nervkit demo` (`npm start`): the built-in sample through the public API with its default
// settings, the numbers a newcomer asks first (size, bpp, PSNR, and what x264 needs for the same
// PSNR), the files to look at, and the player page.
import { rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { encode, open } from '../index.ts';
import { ENCODE_DEFAULTS, PRESETS, type Preset } from '../encode/settings.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { describeAdapter } from '../gpu/node.ts';
import { trackTempPath, writeFileAtomic } from '../format/atomic.ts';
import { findFfmpeg, writeVideo } from '../video/node-io.ts';
import type { RgbFrame, VideoInfo } from '../video/frame.ts';
import { NervError } from '../errors.ts';
import { x264BytesAtPsnr, type AnchorMatch } from '../anchors/x264.ts';
import { describeFsError } from './errors.ts';
import { checkOutput, overwriteFrom } from './files.ts';
import { addInterruptNote, onInterrupt, setInterruptProgress } from './interrupt.ts';
import { progressReporter } from './progress.ts';
import { SAMPLE, SAMPLE_PATH, openSample } from './sample.ts';
import { serveUntilInterrupted, startPlayServer } from './play.ts';

export interface DemoFlags {
  out: string;
  serve: boolean;
  port: number;
  /** Hidden: a cut of the sample and fewer steps, so that a test stays fast. */
  frames?: number;
  steps?: number;
  crop?: { width: number; height: number };
  yes?: boolean;
  neverOverwrite?: boolean;
}

export async function demoCommand(flags: DemoFlags): Promise<void> {
  const dir = resolve(flags.out);
  const files = { nerv: join(dir, 'sample.nerv'), decoded: join(dir, 'decoded.y4m'), source: join(dir, 'source.y4m') };
  const createdDir = await prepareDirectory(dir);
  const overwrite = overwriteFrom(flags);
  for (const file of Object.values(files)) await checkOutput(file, { inputs: [SAMPLE_PATH], overwrite });
  const written: string[] = [];
  setInterruptProgress(() => 'before the demo finished');
  addInterruptNote(() => (written.length ? `kept ${written.join(', ')}` : `nothing was written to ${dir}`));
  const removeDir = onInterrupt(() => {
    if (createdDir && written.length === 0) rmdirSync(dir);
  });

  const source = await openSample(flags.frames);
  const frames: RgbFrame[] = [];
  for await (const frame of source.frames()) frames.push(flags.crop ? cropFrame(frame, flags.crop) : frame);
  const info: VideoInfo = { ...source.info, width: frames[0].width, height: frames[0].height, frameCount: frames.length };
  await writeVideo(files.source, info, frames, { overwrite: flags.yes === true });
  written.push(files.source);

  const device = await requestGpuDevice();
  const preset = PRESETS[DEMO_PRESET];
  const keySteps = flags.steps ?? preset.keySteps;
  const laterSteps = flags.steps ?? preset.laterSteps;
  const groups = Math.ceil(frames.length / ENCODE_DEFAULTS.groupSize);
  const stepsOf = (k: number) => (k % ENCODE_DEFAULTS.keyInterval === 0 ? keySteps : laterSteps);
  const progress = progressReporter({ interactive: !!process.stderr.isTTY, quiet: false, groups, stepsOf });
  progress.note(`encoding the sample (${SAMPLE.name}, ${frames.length} frames) with the default settings on ${describeAdapter()}`);
  const started = performance.now();
  const result = await encode(frames, {
    device,
    fps: info.fps,
    colorSpace: info.colorSpace,
    colorRange: info.colorRange,
    onProgress: progress.update,
    preset: DEMO_PRESET,
    ...(flags.steps ? { steps: flags.steps, laterSteps: flags.steps } : {}),
  });
  progress.stop();
  const seconds = (performance.now() - started) / 1000;
  await writeFileAtomic(files.nerv, result.bytes, { overwrite: flags.yes === true });
  written.push(files.nerv);

  const video = await open(result.bytes, { device });
  async function* decoded(): AsyncGenerator<RgbFrame> {
    for (let i = 0; i < video.info.frameCount; i++) {
      const { rgb, yuv } = await video.frameSamples(i);
      yield { width: info.width, height: info.height, data: rgb, yuv };
    }
  }
  await writeVideo(files.decoded, info, decoded(), { overwrite: flags.yes === true });
  written.push(files.decoded);
  removeDir();

  const anchor = await compareWithX264(files.source, result.psnr, frames.length);
  const lines = [
    `sample     ${SAMPLE.name}: ${frames.length} frames at ${info.width}x${info.height} (examples/sample: OpenCV's vtest.avi)`,
    `nervkit    ${result.bytes.length} bytes, ${result.bpp.toFixed(3)} bpp, PSNR ${result.psnr.toFixed(2)} dB YUV 6:1:1 (${result.psnrRgb.toFixed(2)} dB RGB), ` +
      `encoded in ${seconds.toFixed(0)} s`,
    anchorLine(anchor, result.bytes.length),
    `wrote      ${files.nerv}`,
    `           ${files.decoded} (what the decoder shows)`,
    `           ${files.source} (the input)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (flags.serve) {
    const name = basename(files.nerv);
    await serveUntilInterrupted(await startPlayServer({ port: flags.port, videos: { [name]: result.bytes } }), name, files.nerv);
  }
}

/** The top-left corner of `frame` (the hidden --crop keeps the demo's test small). */
function cropFrame(frame: RgbFrame, size: { width: number; height: number }): RgbFrame {
  const width = Math.min(size.width, frame.width);
  const height = Math.min(size.height, frame.height);
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) data.set(frame.data.subarray(y * frame.width * 3, (y * frame.width + width) * 3), y * width * 3);
  return { width, height, data };
}

/** Creates the output folder if needed (its parent must exist); says whether it did. */
async function prepareDirectory(dir: string): Promise<boolean> {
  const existing = await stat(dir).catch(() => undefined);
  if (existing) {
    if (!existing.isDirectory()) throw new NervError('IO', `cannot write to ${dir}: it is not a directory`);
    return false;
  }
  try {
    await mkdir(dir);
  } catch (cause) {
    throw new NervError('IO', `cannot create ${dir}: ${dirname(dir)} ${describeFsError(cause)}`, { cause });
  }
  return true;
}

/** The demo shows what the library's default settings give. */
const DEMO_PRESET: Preset = ENCODE_DEFAULTS.preset;

type AnchorOutcome = { match: AnchorMatch } | { skipped: string };

/** x264's bytes at nervkit's PSNR, in a scratch folder that never outlives the command. */
async function compareWithX264(sourceY4m: string, psnr: number, frames: number): Promise<AnchorOutcome> {
  const ffmpeg = findFfmpeg();
  if (!ffmpeg) return { skipped: 'ffmpeg not found (apt-get install ffmpeg)' };
  const work = await mkdtemp(join(tmpdir(), 'nervkit-demo-x264-'));
  const untrack = trackTempPath(work);
  try {
    return { match: await x264BytesAtPsnr(ffmpeg, sourceY4m, psnr, frames, work) };
  } catch (error) {
    return { skipped: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  } finally {
    await rm(work, { recursive: true, force: true });
    untrack();
  }
}

function anchorLine(anchor: AnchorOutcome, bytes: number): string {
  if ('skipped' in anchor) return `x264       not compared: ${anchor.skipped}`;
  const { match } = anchor;
  const ratio = bytes / match.bytes;
  const versus = ratio >= 1 ? `nervkit needs ${ratio.toFixed(1)}x its bytes` : `nervkit needs ${(1 / ratio).toFixed(1)}x fewer bytes`;
  const miss = match.matched ? '' : ` (nearest PSNR it reached: ${match.psnr.toFixed(2)} dB)`;
  return `x264       ${match.bytes} bytes at the same PSNR (preset medium, crf ${match.crf.toFixed(2)})${miss}: ${versus}`;
}
