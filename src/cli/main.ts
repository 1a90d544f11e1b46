// The nervkit command line (Node edge). Each command prints one clear line on error and exits with
// a status that tells the kind of failure apart (see EXIT_CODES).
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT_CODES, reportError, UsageError } from './errors.ts';
import { DEFAULT_PROFILE, PROFILES } from '../nn/model.ts';
import { ENCODE_DEFAULTS, PRESETS } from '../encode/encode.ts';
import { encodeCommand } from './encode.ts';
import { decodeCommand, evalCommand, infoCommand } from './inspect.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('nervkit')
    .description('Store a video as small neural networks (.nerv), and play it back.')
    .version(await packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `nervkit: ${text}` : text) })
    .showSuggestionAfterError();

  program
    .command('encode')
    .description('train and write a .nerv file from a video (Y4M, PNG frames, or any format ffmpeg reads)')
    .requiredOption('-i, --input <file>', 'input video')
    .requiredOption('-o, --output <file>', 'output .nerv file')
    .option('--frames <n>', 'encode at most N frames', positiveInt)
    .option('--scale <WxH>', 'resize frames to W x H first (needs ffmpeg)', frameSize)
    .addOption(new Option('--size <bytes>', 'target file size, e.g. 200k or 1.5M (k = 1000 bytes)').argParser(byteSize).conflicts(['bpp', 'psnr']))
    .addOption(new Option('--bpp <bits>', 'target bits per pixel (file bytes * 8 / (width * height * frames))').argParser(positiveNumber).conflicts(['psnr']))
    .option('--psnr <dB>', 'target PSNR (YUV 6:1:1 for Y\'CbCr sources, RGB otherwise)', positiveNumber)
    .addOption(new Option('--lambda <value>', 'rate-distortion trade-off: loss = distortion + lambda * bits per pixel (larger: smaller file)').argParser(positiveNumber).conflicts(['size', 'bpp', 'psnr']))
    .addOption(new Option('--preset <name>', 'training effort').choices(Object.keys(PRESETS)).default(ENCODE_DEFAULTS.preset))
    .option('--steps <n>', 'training steps for a key group (default: from the preset)', positiveInt)
    .option('--later-steps <n>', 'training steps for a predicted group (default: from the preset)', positiveInt)
    .option('--group <n>', 'frames per group', positiveInt, ENCODE_DEFAULTS.groupSize)
    .addOption(new Option('--profile <name>', 'model profile').choices(Object.keys(PROFILES)).default(DEFAULT_PROFILE))
    .option('--key-interval <n>', 'a key group every N groups', positiveInt, ENCODE_DEFAULTS.keyInterval)
    .option('--seed <n>', 'random seed (same seed, same backend: same file)', nonNegativeInt, 1)
    .option('--json', 'print a machine-readable summary on stdout')
    .action(encodeCommand);

  program
    .command('decode')
    .description('decode a .nerv file to Y4M, PNG frames (a pattern like out/%04d.png) or any format ffmpeg writes')
    .requiredOption('-i, --input <file>', 'input .nerv file')
    .requiredOption('-o, --output <file>', 'output video or PNG pattern')
    .option('--cpu', 'decode on the CPU even when a WebGPU adapter exists')
    .action(decodeCommand);

  program
    .command('info')
    .description('describe a .nerv file: size, frames, groups, bytes per part, bpp, MACs/pixel')
    .argument('<file>', '.nerv file')
    .option('--json', 'print JSON')
    .action(infoCommand);

  program
    .command('eval')
    .description('measure a .nerv file against its source: PSNR (RGB, YUV 6:1:1) and MS-SSIM per frame and mean')
    .requiredOption('-i, --input <file>', 'input .nerv file')
    .requiredOption('--ref <file>', 'reference video (scaled to the .nerv size when needed, with ffmpeg)')
    .option('--json', 'print JSON')
    .option('--cpu', 'decode on the CPU even when a WebGPU adapter exists')
    .action(evalCommand);

  program
    .command('play')
    .description('serve a web page that plays a .nerv file with WebGPU, and print its URL')
    .argument('<file>', '.nerv file')
    .option('--port <n>', 'port on localhost (0: any free port)', nonNegativeInt, 0)
    .action(async (file: string, options: { port: number }) => {
      const { playCommand } = await import('./play.ts');
      await playCommand(file, options);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_CODES.USAGE;
    return reportError(error);
  }
}

async function packageVersion(): Promise<string> {
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/** Bytes from `200k`, `1.5M`, `900` (k = 1000, M = 10^6, as ffmpeg's bitrates). */
export function byteSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected a size like 200k, 1.5M or 90000');
  const bytes = Number(match[1]) * (match[2] === '' ? 1 : match[2].toLowerCase() === 'k' ? 1e3 : 1e6);
  if (!(bytes >= 1)) throw new InvalidArgumentError('expected at least one byte');
  return Math.round(bytes);
}

export function frameSize(value: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected WxH, e.g. 320x192');
  return { width: Number(match[1]), height: Number(match[2]) };
}

export { UsageError };
