import { open, type NervVideo, type OpenOptions } from '../decode/video.ts';
import { describeNerv } from '../format/index.ts';
import { psnr, psnrYuv, psnrYuvPlanes, msSsim } from '../metrics/index.ts';
import { isImagePattern, openVideo, writeVideo, writeY4mStream } from '../video/node-io.ts';
import type { RgbFrame, VideoInfo } from '../video/frame.ts';
import { NervError } from '../errors.ts';
import { inputAndOutput, naming, pick, readNerv, STDIO, type InOutFlags } from './files.ts';
import { addInterruptNote, setInterruptProgress } from './interrupt.ts';
import { UsageError } from './errors.ts';

/** A .nerv file (or stdin) opened for decoding; any error names the file. */
export async function openNerv(path: string, options: OpenOptions): Promise<{ bytes: Uint8Array; video: NervVideo }> {
  const bytes = await readNerv(path);
  try {
    return { bytes, video: await open(bytes, options) };
  } catch (error) {
    throw naming(path, error);
  }
}

export async function infoCommand(file: string, flags: { json?: boolean }): Promise<void> {
  const { bytes, video } = await openNerv(file, { backend: 'cpu' });
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
    `  model      profile ${i.profile}, ${i.parameterCount} network parameters, lambda ${Number(i.lambda.toPrecision(4))}`,
    `  decode     ${i.macsPerPixel} MACs/pixel (synthesis ${Math.round(c.synthesis)}, upsampling ${Math.round(c.upsampling)}, entropy model ${Math.round(c.entropyModel)})`,
    `  groups     ${i.groupCount} of ${i.groupSize} frames, a key group every ${i.keyInterval}; ${parts.networkGroups} carry networks`,
    `  size       ${i.byteLength} bytes, ${i.bpp.toFixed(4)} bpp`,
    `  bytes      latents ${share(parts.latents)}, networks ${share(networkBytes)}, header+index ${share(parts.header + parts.index)}, framing ${share(parts.chunkOverhead)}`,
    ...Object.entries(parts.tensors).map(([name, n]) => `             ${name.padEnd(18)} ${n}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export interface DecodeFlags extends InOutFlags {
  cpu?: boolean;
  format?: string;
}

export async function decodeCommand(inputArg: string | undefined, outputArg: string | undefined, flags: DecodeFlags): Promise<void> {
  if (flags.format !== undefined && flags.format !== 'y4m') {
    throw new UsageError(`-f ${flags.format}: only y4m can be forced; other formats follow the output's extension`);
  }
  const { input, output } = await inputAndOutput(inputArg, outputArg, flags, 'Y4M video');
  const { video } = await openNerv(input, { backend: flags.cpu ? 'cpu' : 'auto' });
  const { width, height, fps, colorSpace, frameCount } = video.info;
  let written = 0;
  async function* rgbFrames(): AsyncGenerator<RgbFrame> {
    for (let i = 0; i < frameCount; i++) {
      // Y'CbCr files keep their own samples, so a Y4M output needs no RGB round trip.
      const { rgb, yuv } = await video.frameSamples(i);
      yield { width, height, data: rgb, yuv };
      written++;
    }
  }
  setInterruptProgress(() => `after ${written} of ${frameCount} frames`);
  addInterruptNote(() =>
    output === STDIO
      ? 'the Y4M stream on stdout is cut short'
      : isImagePattern(output)
        ? `${written} PNG files of ${output} were written`
        : `nothing was written to ${output}`,
  );
  const info: VideoInfo = { width, height, fps, colorSpace: colorSpace === 'bt709' ? 'bt709' : 'bt601', frameCount, source: input };
  if (output === STDIO) await writeY4mStream(process.stdout, info, rgbFrames());
  else await writeVideo(output, info, rgbFrames(), { overwrite: flags.yes === true, format: flags.format === 'y4m' ? 'y4m' : undefined });
}

export interface EvalFlags {
  input?: string;
  ref?: string;
  json?: boolean;
  cpu?: boolean;
  scale?: boolean;
}

export async function evalCommand(inputArg: string | undefined, refArg: string | undefined, flags: EvalFlags): Promise<void> {
  const input = pick('input', inputArg, flags.input, '-i');
  const ref = pick('reference', refArg, flags.ref, '--ref');
  const { video } = await openNerv(input, { backend: flags.cpu ? 'cpu' : 'auto' });
  const { width, height, frameCount } = video.info;
  const reference = await openVideo(ref, { maxFrames: frameCount, scale: flags.scale ? { width, height } : undefined }).catch((error: unknown) => {
    throw naming(ref, error);
  });
  if (reference.info.width !== width || reference.info.height !== height) {
    await reference.close();
    throw new NervError(
      'BAD_INPUT',
      `${ref} is ${reference.info.width}x${reference.info.height} but ${input} is ${width}x${height}: ` +
        `pass --scale to resize the reference (with ffmpeg), or compare against the source at ${width}x${height}`,
    );
  }
  const frames: { frame: number; psnr: number; psnrYuv: number; msSsim: number }[] = [];
  try {
    let index = 0;
    for await (const source of reference.frames()) {
      const samples = await video.frameSamples(index);
      const decoded = { width, height, data: samples.rgb };
      // Y'CbCr files are compared on their own planes against the source's (no RGB round trip).
      const yuv = samples.yuv && source.yuv?.chroma === '420' ? psnrYuvPlanes(samples.yuv, source.yuv) : psnrYuv(decoded, source);
      frames.push({ frame: index, psnr: psnr(decoded, source), psnrYuv: yuv.weighted, msSsim: msSsim(decoded, source) });
      if (++index === frameCount) break;
    }
  } finally {
    await reference.close();
  }
  if (frames.length < frameCount) {
    throw new NervError('BAD_INPUT', `the reference has ${frames.length} frames, the .nerv file ${frameCount}`);
  }
  const mean = (key: 'psnr' | 'psnrYuv' | 'msSsim') => frames.reduce((a, f) => a + Math.min(f[key], 100), 0) / frames.length;
  const summary = {
    frames: frameCount,
    bytes: video.info.byteLength,
    bpp: video.info.bpp,
    psnr: mean('psnr'),
    psnrYuv: mean('psnrYuv'),
    msSsim: mean('msSsim'),
    perFrame: frames,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  for (const f of frames)
    process.stdout.write(
      `frame ${String(f.frame).padStart(4)}  PSNR ${f.psnr.toFixed(2)} dB  YUV ${f.psnrYuv.toFixed(2)} dB  MS-SSIM ${f.msSsim.toFixed(4)}\n`,
    );
  process.stdout.write(
    `mean        PSNR ${summary.psnr.toFixed(2)} dB  YUV ${summary.psnrYuv.toFixed(2)} dB  MS-SSIM ${summary.msSsim.toFixed(4)}  (${summary.bpp.toFixed(4)} bpp)\n`,
  );
}
