// Rate targets asked vs reached: encodes a clip through the CLI (`nervkit encode --size / --bpp /
// --psnr ... --json`) once per target and records the file's real bytes, bpp and decoded PSNR against
// what was asked, the lambda the search settled on, the passes it took, and the warnings it printed.
//   npx tsx bench/targets.ts [CLIP] [--scale 160x96] [--frames 16] [--preset fast] [--targets size=10k,bpp=0.4,psnr=29] [--tag T]
// Without CLIP it uses the built-in sample. Prints a table, writes bench/results/targets[-TAG].json.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/anchors/process.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scale: { type: 'string' },
    frames: { type: 'string', default: '16' },
    preset: { type: 'string', default: 'fast' },
    targets: { type: 'string', default: 'size=10k,bpp=0.4,psnr=29' },
    tag: { type: 'string' },
  },
});

const work = mkdtempSync(join(tmpdir(), 'nervkit-targets-'));
const bin = join(ROOT, 'bin', 'nervkit.js');
const source = join(work, 'source.y4m');
// One source Y4M for every run, so that they all see the same frames.
const input = positionals[0];
if (input === undefined) await run(process.execPath, [bin, 'sample', source, '--frames', args.frames!]);
else {
  const scale = args.scale ? ['-vf', `scale=${args.scale.replace('x', ':')}:flags=area`] : [];
  await run(process.env.NERVKIT_FFMPEG ?? 'ffmpeg', ['-v', 'error', '-i', input, ...scale, '-frames:v', args.frames!, '-pix_fmt', 'yuv420p', '-y', source]);
}

const rows = [];
try {
  for (const spec of args.targets!.split(',')) {
    const [kind, value] = spec.split('=');
    if (!['size', 'bpp', 'psnr'].includes(kind) || !value) throw new Error(`--targets: expected size=..., bpp=... or psnr=..., got '${spec}'`);
    const out = join(work, `${kind}.nerv`);
    const result = await run(process.execPath, [bin, 'encode', source, out, `--${kind}`, value, '--preset', args.preset!, '--json', '-y']);
    const summary = JSON.parse(result.stdout);
    const bytes = statSync(out).size;
    const reached = kind === 'psnr' ? summary.psnr : kind === 'size' ? bytes : summary.bpp;
    const asked = kind === 'psnr' ? Number(value) : kind === 'size' ? summary.targets.bytes.asked : Number(value);
    const row = {
      target: kind,
      asked,
      reached,
      off: kind === 'psnr' ? reached - asked : reached / asked - 1,
      groupPsnr: summary.groups.map((g: { psnr: number }) => g.psnr),
      bytes,
      bpp: summary.bpp,
      psnr: summary.psnr,
      lambda: summary.lambda,
      passes: summary.groups.map((g: { search: unknown[] }) => g.search.length),
      seconds: result.seconds,
      warnings: summary.warnings,
    };
    rows.push(row);
    const off = kind === 'psnr' ? `${row.off >= 0 ? '+' : ''}${row.off.toFixed(2)} dB` : `${row.off >= 0 ? '+' : ''}${(100 * row.off).toFixed(1)}%`;
    console.log(
      `--${kind} ${value}: reached ${kind === 'psnr' ? `${reached.toFixed(2)} dB` : kind === 'size' ? `${bytes} B` : `${reached.toFixed(4)} bpp`} (${off}); ` +
        `group PSNR ${row.groupPsnr.map((p: number) => p.toFixed(2)).join(', ')}; ${bytes} B, ${summary.psnr.toFixed(2)} dB; ` +
        `passes ${row.passes.join('+')}; ${result.seconds.toFixed(0)} s${row.warnings.length ? `; warnings: ${row.warnings.join(' | ')}` : ''}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const results = join(ROOT, 'bench', 'results');
mkdirSync(results, { recursive: true });
const file = join(results, `targets${args.tag ? `-${args.tag}` : ''}.json`);
writeFileSync(
  file,
  JSON.stringify(
    {
      bench: 'targets',
      date: new Date().toISOString(),
      machine: `${cpus()[0]?.model.trim()}, ${cpus().length} cores`,
      input: input ?? 'built-in sample',
      scale: args.scale,
      frames: Number(args.frames),
      preset: args.preset,
      rows,
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${file}`);
