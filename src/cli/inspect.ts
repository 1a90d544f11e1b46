import { readFile } from 'node:fs/promises';
import { open } from '../decode/video.ts';
import { describeNerv } from '../format/index.ts';
import { psnr, psnrYuv, msSsim } from '../metrics/index.ts';
import { openVideo, writeVideo } from '../video/node-io.ts';
import type { RgbFrame } from '../video/frame.ts';
import { rgba8ToRgb } from '../video/color.ts';
import { NervError } from '../errors.ts';

/** The bytes of a file, or an IO error naming it. */
export async function readNerv(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new NervError('IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

export async function infoCommand(file: string, flags: { json?: boolean }): Promise<void> {
  const bytes = await readNerv(file);
  const video = await open(bytes, { backend: 'cpu' });
  const parts = describeNerv(bytes);
  const info = { file, ...video.info, parts };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const i = video.info;
  const lines = [
    `${file}: .nerv format version ${i.version}`,
    `  video      ${i.width}x${i.height}, ${i.frameCount} frames at ${i.fps.num}/${i.fps.den} fps, ${i.colorSpace}`,
    `  model      profile ${i.profile}, ${i.parameterCount} parameters, ${i.macsPerPixel} MACs/pixel`,
    `  groups     ${i.groupCount} of ${i.groupSize} frames, a key group every ${i.keyInterval}`,
    `  size       ${i.byteLength} bytes, ${i.bpp.toFixed(4)} bpp`,
    `  bytes      header ${parts.header}, index ${parts.index}, chunk framing ${parts.chunkOverhead}`,
    ...Object.entries(parts.tensors).map(([name, n]) => `             ${name.padEnd(12)} ${n}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function decodeCommand(flags: { input: string; output: string; cpu?: boolean }): Promise<void> {
  const video = await open(await readNerv(flags.input), { backend: flags.cpu ? 'cpu' : 'auto' });
  const { width, height, fps, colorSpace } = video.info;
  async function* rgbFrames(): AsyncGenerator<RgbFrame> {
    for await (const rgba of video.frames()) yield rgba8ToRgb(rgba, width, height);
  }
  await writeVideo(flags.output, { width, height, fps, colorSpace: colorSpace === 'bt709' ? 'bt709' : 'bt601', frameCount: video.info.frameCount, source: flags.input }, rgbFrames());
}

export async function evalCommand(flags: { input: string; ref: string; json?: boolean; cpu?: boolean }): Promise<void> {
  const video = await open(await readNerv(flags.input), { backend: flags.cpu ? 'cpu' : 'auto' });
  const { width, height, frameCount } = video.info;
  const reference = await openVideo(flags.ref, { maxFrames: frameCount, scale: { width, height } });
  const frames: { frame: number; psnr: number; psnrYuv: number; msSsim: number }[] = [];
  try {
    let index = 0;
    for await (const ref of reference.frames()) {
      const decoded = rgba8ToRgb(await video.frame(index), width, height);
      frames.push({ frame: index, psnr: psnr(decoded, ref), psnrYuv: psnrYuv(decoded, ref).weighted, msSsim: msSsim(decoded, ref) });
      if (++index === frameCount) break;
    }
  } finally {
    await reference.close();
  }
  if (frames.length < frameCount) {
    throw new NervError('BAD_INPUT', `the reference has ${frames.length} frames, the .nerv file ${frameCount}`);
  }
  const mean = (key: 'psnr' | 'psnrYuv' | 'msSsim') => frames.reduce((a, f) => a + Math.min(f[key], 100), 0) / frames.length;
  const summary = { frames: frameCount, bytes: video.info.byteLength, bpp: video.info.bpp, psnr: mean('psnr'), psnrYuv: mean('psnrYuv'), msSsim: mean('msSsim'), perFrame: frames };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  for (const f of frames) process.stdout.write(`frame ${String(f.frame).padStart(4)}  PSNR ${f.psnr.toFixed(2)} dB  YUV ${f.psnrYuv.toFixed(2)} dB  MS-SSIM ${f.msSsim.toFixed(4)}\n`);
  process.stdout.write(`mean        PSNR ${summary.psnr.toFixed(2)} dB  YUV ${summary.psnrYuv.toFixed(2)} dB  MS-SSIM ${summary.msSsim.toFixed(4)}  (${summary.bpp.toFixed(4)} bpp)\n`);
}
