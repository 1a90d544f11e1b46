// The built-in sample clip (examples/sample/): 16 frames of OpenCV's vtest.avi at 128x80, 4:2:0 Y4M
// compressed with brotli, which node:zlib reads back, so the demo and the docs need no ffmpeg.
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import type { FrameSource } from '../video/frame.ts';
import { openVideo, openY4mStream, writeVideo, writeY4mStream } from '../video/node-io.ts';
import { checkOutput, overwriteFrom, refuseBinaryToTerminal, STDIO, type InOutFlags } from './files.ts';
import { BadArgumentError } from '../errors.ts';

export const SAMPLE = {
  url: new URL('../../examples/sample/vtest-128x80.y4m.br', import.meta.url),
  name: 'vtest-128x80',
  width: 128,
  height: 80,
  frames: 16,
};

export const SAMPLE_PATH = fileURLToPath(SAMPLE.url);

/** The sample's frames (the first `maxFrames` of them), streamed through brotli. */
export function openSample(maxFrames?: number): Promise<FrameSource> {
  const stream = createReadStream(SAMPLE.url).pipe(createBrotliDecompress());
  return openY4mStream(stream, { source: SAMPLE_PATH, maxFrames, frameCount: SAMPLE.frames });
}

/**
 * `path`, or the built-in sample when no path is given (examples and benches default to it, so they
 * run from a fresh clone). `scale` applies to files only: the sample has one size.
 */
export async function openInputOrSample(
  path: string | undefined,
  options: { maxFrames?: number; scale?: { width: number; height: number } } = {},
): Promise<FrameSource> {
  if (path !== undefined) return openVideo(path, options);
  const { scale } = options;
  if (scale && (scale.width !== SAMPLE.width || scale.height !== SAMPLE.height)) {
    throw new BadArgumentError(`the built-in sample is ${SAMPLE.width}x${SAMPLE.height}; to use another size, pass an input file`);
  }
  return openSample(options.maxFrames);
}

/** `nervkit sample [OUT]`: the built-in sample as a plain video (Y4M by default, `-` for stdout). */
export async function sampleCommand(outputArg: string | undefined, flags: InOutFlags & { frames?: number }): Promise<void> {
  const output = outputArg ?? flags.output ?? `${SAMPLE.name}.y4m`;
  refuseBinaryToTerminal(output, 'Y4M video');
  await checkOutput(output, { inputs: [SAMPLE_PATH], overwrite: overwriteFrom(flags) });
  const source = await openSample(flags.frames);
  try {
    const info = { ...source.info, frameCount: Math.min(SAMPLE.frames, flags.frames ?? Infinity) };
    if (output === STDIO) await writeY4mStream(process.stdout, info, source.frames());
    else await writeVideo(output, info, source.frames(), { overwrite: flags.yes === true });
  } finally {
    await source.close();
  }
  if (output !== STDIO) process.stderr.write(`wrote ${output}: ${SAMPLE.name}, ${source.info.width}x${source.info.height}\n`);
}
