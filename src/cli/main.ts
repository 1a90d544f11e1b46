// The nervkit command line (Node edge). Each command prints one clear line on error and exits with
// a status that tells the kind of failure apart (see EXIT_CODES).
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT_CODES, EXIT_STATUS_HELP, OUTPUT_HELP, reportError, UsageError } from './errors.ts';
import { DEFAULT_PROFILE, PROFILES } from '../nn/model.ts';
import { ENCODE_DEFAULTS, PRESETS } from '../encode/settings.ts';
import { installInterruptHandlers } from './interrupt.ts';
import type { EncodeFlags } from './encode.ts';
import type { DecodeFlags, EvalFlags } from './inspect.ts';
import type { DemoFlags } from './demo.ts';
import type { WorkerFlags } from './worker.ts';
import type { InOutFlags } from './files.ts';

const SEGMENT_HELP = `Segments and distributed encodes (docs/distributed.md):
  A segment is a run of whole key intervals (key-interval x group frames) starting with a key group;
  --segment I or --frames-from A --frames-to B encode one, and \`nervkit join\` puts segments back
  together without re-encoding. With --redis the segments become jobs for \`nervkit worker\`s. Both
  fix lambda for the whole video: --size, --bpp or --psnr decide it on the video's first group.
  A file-to-file encode keeps each finished segment in OUT.parts/ until OUT is written: after an
  interruption, the same command with --resume continues where it stopped, with the same bytes.`;

export async function main(argv: string[]): Promise<number> {
  const removeHandlers = installInterruptHandlers();
  const program = new Command('nervkit')
    .description('Store a video as small neural networks (.nerv), and play it back.')
    .version(await packageVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `nervkit: ${text}` : text) })
    .showSuggestionAfterError()
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\n\n${OUTPUT_HELP}\n`);
  // --adapter takes effect before any command asks for a device.
  program.hook('preAction', async (_program, action) => {
    const adapter = (action.opts() as { adapter?: string }).adapter;
    if (adapter !== undefined) (await import('../gpu/node.ts')).preferAdapter(adapter);
  });
  // Commands load their modules when they run, so that --help and usage errors answer quickly.
  type Slot = string | undefined;

  withOutputRules(
    program
      .command('encode')
      .description('train and write a .nerv file from a video (Y4M, PNG frames, or any format ffmpeg reads)')
      .usage('[options] IN OUT.nerv   (or -i IN -o OUT.nerv)')
      .argument('[input]', "input video ('-': Y4M on stdin)")
      .argument('[output]', "output .nerv file ('-': stdout)")
      .option('-i, --input <file>', 'input video, as the first argument')
      .option('-o, --output <file>', 'output .nerv file, as the second argument')
      .option('--frames <n>', 'encode at most N frames', positiveInt)
      .option('--scale <WxH>', 'resize frames to W x H first (needs ffmpeg)', frameSize)
      .addOption(new Option('--size <bytes>', 'target file size, e.g. 200k or 1.5M (k = 1000 bytes)').argParser(byteSize).conflicts(['bpp', 'psnr']))
      .addOption(new Option('--bpp <bits>', 'target bits per pixel (file bytes * 8 / (width * height * frames))').argParser(positiveNumber).conflicts(['psnr']))
      .option('--psnr <dB>', "target PSNR (YUV 6:1:1 for Y'CbCr sources, RGB otherwise): lambda is searched so every group reaches it", positiveNumber)
      .addOption(
        new Option(
          '--lambda <value>',
          `rate-distortion trade-off, loss = distortion + lambda * bits per pixel (larger: smaller file; default ${ENCODE_DEFAULTS.lambda})`,
        )
          .argParser(positiveNumber)
          .conflicts(['size', 'bpp', 'psnr']),
      )
      .addOption(new Option('--preset <name>', 'training effort (steps per group)').choices(Object.keys(PRESETS)).default(ENCODE_DEFAULTS.preset))
      .option('--steps <n>', 'training steps for a key group (default: from the preset)', positiveInt)
      .option('--later-steps <n>', 'training steps for a predicted group (default: from the preset)', positiveInt)
      .option('--group <n>', 'frames per group', positiveInt, ENCODE_DEFAULTS.groupSize)
      .addOption(new Option('--profile <name>', 'model profile').choices(Object.keys(PROFILES)).default(DEFAULT_PROFILE))
      .option('--key-interval <n>', 'a key group every N groups', positiveInt, ENCODE_DEFAULTS.keyInterval)
      // Scales the learning rates: for diagnosing (and testing) divergence handling.
      .addOption(new Option('--lr-scale <x>', 'multiply the learning rates').argParser(positiveNumber).hideHelp())
      .option('--seed <n>', 'random seed (same seed, same backend: same file)', nonNegativeInt, 1)
      .option('--json', 'print a machine-readable summary on stdout')
      .addOption(
        new Option('--segment <i>', 'encode only segment I (one key interval: key-interval x group frames), for `nervkit join`')
          .argParser(nonNegativeInt)
          .conflicts(['framesFrom', 'framesTo', 'resume', 'redis']),
      )
      .addOption(
        new Option('--frames-from <n>', 'encode only the frames from N (a key interval boundary) as a segment, for `nervkit join`')
          .argParser(nonNegativeInt)
          .conflicts(['resume', 'redis']),
      )
      .addOption(
        new Option('--frames-to <n>', 'end of the segment (exclusive): a key interval boundary or the end of the video')
          .argParser(positiveInt)
          .conflicts(['resume', 'redis']),
      )
      .addOption(new Option('--resume', 'continue an interrupted encode from OUT.parts/ (same input and settings)').conflicts(['redis']))
      .option('--redis <url>', 'encode through a BullMQ queue on this Redis (redis://host:6379): `nervkit worker`s do the work')
      .option('--queue <name>', "queue name for --redis (the workers' --queue)", 'nervkit')
      .addHelpText('after', `\n${SEGMENT_HELP}\n`),
  ).action(async (input: Slot, output: Slot, flags: EncodeFlags) => (await import('./encode.ts')).encodeCommand(input, output, flags, argv));

  withOutputRules(
    program
      .command('join')
      .description('join segment files (from encode --segment or --frames-from) into one .nerv file, without re-encoding')
      .usage('[options] SEGMENT... -o OUT.nerv')
      .argument('<segments...>', 'segment files, in video order')
      .requiredOption('-o, --output <file>', "output .nerv file ('-': stdout)"),
    false,
  ).action(async (files: string[], flags: InOutFlags) => (await import('./join.ts')).joinCommand(files, flags));

  program
    .command('worker')
    .description('take encode jobs from a BullMQ queue on Redis and run them on this machine (until SIGINT/SIGTERM)')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://host:6379')
    .option('--concurrency <n>', 'jobs run at once, each in its own process (they share the GPU)', positiveInt, 1)
    .option('--queue <name>', 'queue name', 'nervkit')
    .option('--lock-duration <ms>', "a job whose worker died goes back to the queue this long after its lock's last renewal", positiveInt, 30000)
    .option('--stalled-interval <ms>', 'how often to look for jobs whose worker died', positiveInt, 30000)
    .option('--name <name>', 'worker name in logs and results (default host:pid)')
    .addOption(adapterOption())
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\n`)
    .action(async (flags: WorkerFlags) => {
      // The worker drains its jobs on the first signal (src/cli/worker.ts), so the generic handlers step aside.
      removeHandlers();
      await (await import('./worker.ts')).workerCommand(flags);
    });

  withOutputRules(
    program
      .command('decode')
      .description('decode a .nerv file to Y4M, PNG frames (a pattern like out/%04d.png) or any format ffmpeg writes')
      .usage('[options] IN.nerv OUT   (or -i IN.nerv -o OUT)')
      .argument('[input]', "input .nerv file ('-': stdin)")
      .argument('[output]', "output video or PNG pattern ('-': Y4M on stdout)")
      .option('-i, --input <file>', 'input .nerv file, as the first argument')
      .option('-o, --output <file>', 'output video, as the second argument')
      .addOption(new Option('-f, --format <format>', 'write this format whatever the name says (the default for -)').choices(['y4m']))
      .option('--cpu', 'decode on the CPU even when a WebGPU adapter exists'),
  ).action(async (input: Slot, output: Slot, flags: DecodeFlags) => (await import('./inspect.ts')).decodeCommand(input, output, flags));

  program
    .command('info')
    .description('describe a .nerv file: size, frames, groups, bytes per part, bpp, MACs/pixel')
    .argument('<file>', ".nerv file ('-': stdin)")
    .option('--json', 'print JSON')
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\n`)
    .action(async (file: string, flags: { json?: boolean }) => (await import('./inspect.ts')).infoCommand(file, flags));

  program
    .command('eval')
    .description('measure a .nerv file against its source: PSNR (RGB, YUV 6:1:1) and MS-SSIM per frame and mean')
    .usage('[options] IN.nerv REF   (or -i IN.nerv --ref REF)')
    .argument('[input]', ".nerv file ('-': stdin)")
    .argument('[reference]', "the source video, at the .nerv file's size")
    .option('-i, --input <file>', '.nerv file, as the first argument')
    .option('--ref <file>', 'reference video, as the second argument')
    .option('--scale', 'resize a reference of another size to the .nerv size (with ffmpeg) instead of refusing it')
    .option('--json', 'print JSON')
    .option('--cpu', 'decode on the CPU even when a WebGPU adapter exists')
    .addOption(adapterOption())
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\n`)
    .action(async (input: Slot, reference: Slot, flags: EvalFlags) => (await import('./inspect.ts')).evalCommand(input, reference, flags));

  program
    .command('play')
    .description('serve a web page that plays a .nerv file with WebGPU, and print its URL')
    .argument('<file>', '.nerv file')
    .option('--port <n>', 'port on localhost (0: any free port)', nonNegativeInt, 0)
    .addHelpText('after', `\n${EXIT_STATUS_HELP}\n`)
    .action(async (file: string, options: { port: number }) => {
      const { playCommand } = await import('./play.ts');
      await playCommand(file, options);
    });

  withOutputRules(
    program
      .command('demo')
      .description('encode the built-in sample clip with the default settings, compare with x264, and serve the player')
      .option('--out <dir>', 'where the .nerv file and the videos go', 'nervkit-demo')
      .option('--no-serve', 'stop after writing and printing the results')
      .option('--port <n>', 'port for the player page (0: any free port)', nonNegativeInt, 0)
      .addOption(new Option('--frames <n>', 'encode only the first N frames of the sample').argParser(positiveInt).hideHelp())
      .addOption(new Option('--steps <n>', 'training steps instead of the default').argParser(positiveInt).hideHelp())
      .addOption(new Option('--crop <WxH>', "encode only the sample's top-left W x H pixels").argParser(frameSize).hideHelp()),
  ).action(async (options: DemoFlags) => {
    const { demoCommand } = await import('./demo.ts');
    await demoCommand(options);
  });

  withOutputRules(
    program
      .command('sample')
      .description("write the built-in sample clip (OpenCV's vtest.avi, 16 frames at 128x80) as a video to try the other commands on")
      .argument('[output]', "where (default vtest-128x80.y4m; any format decode writes; '-': Y4M on stdout)")
      .option('-o, --output <file>', 'where, as the argument')
      .option('--frames <n>', 'only the first N frames', positiveInt),
    false,
  ).action(async (output: Slot, flags: InOutFlags & { frames?: number }) => (await import('./sample.ts')).sampleCommand(output, flags));

  program
    .command('adapters')
    .description("list the WebGPU adapters Node can use, with the benchmark's GFLOP/s where measured")
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => (await import('./adapters.ts')).adaptersCommand(flags));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_CODES.USAGE;
    return reportError(error);
  } finally {
    removeHandlers();
  }
}

function adapterOption(): Option {
  return new Option('--adapter <name|index>', 'WebGPU adapter (see `nervkit adapters`; default: the fastest, measured once)');
}

/** -y/-n, --adapter (unless the command needs no GPU) and the help text every command that writes files shares. */
function withOutputRules(command: Command, gpu = true): Command {
  command
    .addOption(new Option('-y, --yes', 'overwrite the output if it exists').conflicts('neverOverwrite'))
    .addOption(new Option('-n, --never-overwrite', 'never overwrite: refuse if the output exists').conflicts('yes'));
  if (gpu) command.addOption(adapterOption());
  return command.addHelpText('after', `\n${EXIT_STATUS_HELP}\n\n${OUTPUT_HELP}\n`);
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
