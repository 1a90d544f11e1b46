import { readFile } from 'node:fs/promises';
import { open } from '../decode/video.ts';
import { describeNerv } from '../format/index.ts';
import { psnr, psnrYuv, psnrYuvPlanes, msSsim } from '../metrics/index.ts';
import { openVideo, writeVideo } from '../video/node-io.ts';
import type { RgbFrame } from '../video/frame.ts';
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
  const c = i.decodeCost;
  const networkBytes = Object.values(parts.tensors).reduce((a, b) => a + b, 0);
  const share = (n: number) => `${n} (${((100 * n) / i.byteLength).toFixed(1)}%)`;
  const colour = i.colour === 'yuv420' ? `Y'CbCr 4:2:0 ${i.colorSpace} ${i.colorRange} range` : 'RGB';
  const lines = [
    `${file}: .nerv format version ${i.version}`,
    `  video      ${i.width}x${i.height}, ${i.frameCount} frames at ${i.fps.num}/${i.fps.den} fps, ${colour}`,
    `  model      profile ${i.profile}, ${i.parameterCount} network parameters, lambda ${i.lambda}`,
    `  decode     ${i.macsPerPixel} MACs/pixel (synthesis ${Math.round(c.synthesis)}, upsampling ${Math.round(c.upsampling)}, entropy model ${Math.round(c.entropyModel)})`,
    `  groups     ${i.groupCount} of ${i.groupSize} frames, a key group every ${i.keyInterval}; ${parts.networkGroups} carry networks`,
    `  size       ${i.byteLength} bytes, ${i.bpp.toFixed(4)} bpp`,
    `  bytes      latents ${share(parts.latents)}, networks ${share(networkBytes)}, header+index ${share(parts.header + parts.index)}, framing ${share(parts.chunkOverhead)}`,
    ...Object.entries(parts.tensors).map(([name, n]) => `             ${name.padEnd(18)} ${n}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function decodeCommand(flags: { input: string; output: string; cpu?: boolean }): Promise<void> {
  const video = await open(await readNerv(flags.input), { backend: flags.cpu ? 'cpu' : 'auto' });
  const { width, height, fps, colorSpace } = video.info;
  async function* rgbFrames(): AsyncGenerator<RgbFrame> {
    for (let i = 0; i < video.info.frameCount; i++) {
      // Y'CbCr files keep their own samples, so a Y4M output needs no RGB round trip.
      const { rgb, yuv } = await video.frameSamples(i);
      yield { width, height, data: rgb, yuv };
    }
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
      const samples = await video.frameSamples(index);
      const decoded = { width, height, data: samples.rgb };
      // Y'CbCr files are compared on their own planes against the source's (no RGB round trip).
      const yuv = samples.yuv && ref.yuv?.chroma === '420' ? psnrYuvPlanes(samples.yuv, ref.yuv) : psnrYuv(decoded, ref);
      frames.push({ frame: index, psnr: psnr(decoded, ref), psnrYuv: yuv.weighted, msSsim: msSsim(decoded, ref) });
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
