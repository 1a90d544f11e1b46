// How much a context could say about *where* latents change between frames: for the three finest
// levels of a .nerv file, the empirical entropy of the event "this latent differs from the same
// latent of the previous frame", given candidate context features, in bytes per frame. It prices a
// context before any kernel is written: a feature that lowers this entropy is worth a tap.
// Features: the checkerboard neighbours that changed (anchors see none), whether the parent changed
// (centre, or the count over it and its 4 neighbours), and whether this latent (or its 4 neighbours)
// changed in the frame before (needs the frame two back). Frames 0 and 1 are skipped.
//   npx tsx bench/change-context.ts FILE.nerv [--tag T]
// Prints a table and writes bench/results/change-context[-TAG].json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { latentCoder } from '../src/entropy/latents.ts';
import { armTensorsOf } from '../src/quant/networks.ts';
import { type LatentLevel } from '../src/nn/model.ts';
import { openNervArgument } from './lib/nerv-file.ts';

const { path, tag, reader, levels, specs, model } = openNervArgument('change-context.ts');
const { groupSize, frameCount } = reader.header;
const frames: Int32Array[] = [];
let previous: Int32Array | undefined;
for (let k = 0; k < reader.index.length; k++) {
  const group = reader.group(k);
  const coder = latentCoder(model, armTensorsOf(specs, group.tensors));
  for (const latents of coder.decode(group.latents, Math.min(groupSize, frameCount - k * groupSize), reader.index[k].key ? undefined : previous)) {
    frames.push(latents);
    previous = latents;
  }
}
if (frames.length < 3) {
  console.error(`${path}: ${frames.length} frames; this needs 3 or more`);
  process.exit(2);
}

const FEATURES = ['none', 'neighbours', 'neighbours+parent', 'neighbours+parent5', 'neighbours+before', 'neighbours+before5', 'neighbours+parent5+before5'];
const NEIGHBOURS = [
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

const value = (a: Int32Array, l: LatentLevel, y: number, x: number) => (y < 0 || x < 0 || y >= l.height || x >= l.width ? 0 : a[l.offset + y * l.width + x]);
const changed = (t: number, l: LatentLevel, y: number, x: number) => (value(frames[t], l, y, x) !== value(frames[t - 1], l, y, x) ? 1 : 0);
const around = (t: number, l: LatentLevel, y: number, x: number) =>
  Math.min(2, changed(t, l, y, x) + NEIGHBOURS.reduce((s, [dy, dx]) => s + changed(t, l, y + dy, x + dx), 0));

/** Empirical conditional entropy (bits) of a binary event from [count of 0, count of 1] per context. */
function entropy(table: Map<string, [number, number]>): number {
  let bits = 0;
  for (const counts of table.values()) {
    const n = counts[0] + counts[1];
    for (const c of counts) if (c) bits -= c * Math.log2(c / n);
  }
  return bits;
}

const results = [];
for (let l = 0; l < Math.min(3, levels.length - 1); l++) {
  const level = levels[l];
  const parent = levels[l + 1];
  const tables = new Map(FEATURES.map((f) => [f, new Map<string, [number, number]>()]));
  let changes = 0;
  let count = 0;
  for (let t = 2; t < frames.length; t++) {
    for (let y = 0; y < level.height; y++) {
      for (let x = 0; x < level.width; x++) {
        const c = changed(t, level, y, x);
        changes += c;
        count++;
        const anchor = ((x + y) & 1) === 0;
        const neighbours = anchor ? 'anchor' : String(NEIGHBOURS.reduce((s, [dy, dx]) => s + changed(t, level, y + dy, x + dx), 0));
        const parentChanged = String(changed(t, parent, y >> 1, x >> 1));
        const parent5 = String(around(t, parent, y >> 1, x >> 1));
        const before = String(changed(t - 1, level, y, x));
        const before5 = String(around(t - 1, level, y, x));
        const keys = [
          '',
          neighbours,
          neighbours + parentChanged,
          neighbours + parent5,
          neighbours + before,
          neighbours + before5,
          neighbours + parent5 + before5,
        ];
        FEATURES.forEach((f, i) => {
          const table = tables.get(f)!;
          const counts = table.get(keys[i]) ?? [0, 0];
          counts[c]++;
          table.set(keys[i], counts);
        });
      }
    }
  }
  const bytesPerFrame = Object.fromEntries(FEATURES.map((f) => [f, entropy(tables.get(f)!) / 8 / (frames.length - 2)]));
  results.push({ stride: level.stride, width: level.width, height: level.height, changedShare: changes / count, bytesPerFrame });
}

console.log(`${path}: ${frames.length} frames; bytes per frame to say which latents changed (frames 2..${frames.length - 1})`);
console.log(`${'context'.padEnd(28)}${results.map((r) => `stride ${r.stride} (${(100 * r.changedShare).toFixed(2)}%)`.padStart(20)).join('')}`);
for (const f of FEATURES) console.log(`${f.padEnd(28)}${results.map((r) => r.bytesPerFrame[f].toFixed(1).padStart(20)).join('')}`);
const dir = join(import.meta.dirname, 'results');
mkdirSync(dir, { recursive: true });
const out = join(dir, `change-context${tag ? `-${tag}` : ''}.json`);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), file: basename(path), frames: frames.length, levels: results }, null, 2));
console.log(`wrote ${out}`);
