// Where a .nerv file's latent bits go: for every frame, the exact code length of each latent level
// under the file's own context model, the share of non-zero latents, and the share equal to the
// same latent of the previous frame (what temporal prediction could exploit).
//   npx tsx bench/latents.ts FILE.nerv [--tag T]
// Prints a table and writes bench/results/latents[-TAG].json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { latentCoder } from '../src/entropy/latents.ts';
import { armTensorsOf } from '../src/quant/networks.ts';
import { openNervArgument } from './lib/nerv-file.ts';

const { path, tag, reader, model, levels, specs } = openNervArgument('latents.ts');
const { groupSize, frameCount } = reader.header;

interface FrameRow {
  frame: number;
  bytes: number;
  levels: { stride: number; bytes: number; nonZero: number; equalToPrevious: number | null }[];
}
const rows: FrameRow[] = [];
let previous: Int32Array | undefined;
for (let k = 0; k < reader.index.length; k++) {
  // The reader resolves a predicted group's tensors to the ones it inherits.
  const group = reader.group(k);
  const coder = latentCoder(model, armTensorsOf(specs, group.tensors));
  const frames = coder.decode(group.latents, Math.min(groupSize, frameCount - k * groupSize), reader.index[k].key ? undefined : previous);
  if (reader.index[k].key) previous = undefined;
  for (const [j, latents] of frames.entries()) {
    const bits = coder.bitsByLevel([latents], previous);
    rows.push({
      frame: k * groupSize + j,
      bytes: bits.reduce((a, b) => a + b, 0) / 8,
      levels: levels.map((level, l) => {
        let nonZero = 0;
        let equal = 0;
        for (let i = level.offset; i < level.offset + level.size; i++) {
          if (latents[i] !== 0) nonZero++;
          if (previous && previous[i] === latents[i]) equal++;
        }
        return { stride: level.stride, bytes: bits[l] / 8, nonZero: nonZero / level.size, equalToPrevious: previous ? equal / level.size : null };
      }),
    });
    previous = latents;
  }
}

const percent = (v: number | null) => (v === null ? '   -' : `${(100 * v).toFixed(0).padStart(3)}%`);
console.log(`${path}: ${model.width}x${model.height}, ${frameCount} frames, levels ${levels.map((l) => `stride ${l.stride}`).join(', ')}`);
console.log(`frame   bytes  ${levels.map((l) => `| s${String(l.stride).padEnd(3)} bytes  nz   =prev`).join(' ')}`);
for (const r of rows) {
  const cells = r.levels.map((l) => `| ${l.bytes.toFixed(0).padStart(9)} ${percent(l.nonZero)} ${percent(l.equalToPrevious)}`);
  console.log(`${String(r.frame).padStart(5)} ${r.bytes.toFixed(0).padStart(7)}  ${cells.join(' ')}`);
}
const out = join(import.meta.dirname, 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `latents${tag ? `-${tag}` : ''}.json`);
writeFileSync(file, JSON.stringify({ file: basename(path), width: model.width, height: model.height, frameCount, frames: rows }, null, 2));
console.log(`wrote ${file}`);
