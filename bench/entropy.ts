/**
 * Entropy coder bench: our per-tensor rANS models against gzip -9 and brotli -q11 on the same symbols.
 *
 *   npx tsx bench/entropy.ts [file.nerv]
 *
 * With a .nerv file, every group's tensors (absolute symbols, residuals resolved) are measured as the
 * file writer codes them (grids may be coded as differences along a time or space stride); with
 * no argument, synthetic Laplace-distributed tensors of realistic sizes. gzip and brotli get each
 * tensor separately, packed little-endian at the narrowest width that holds all its symbols
 * (int8, int16 or int32), which is the fairest raw form for them. Prints a table per tensor class
 * (name up to the first '.') and writes bench/results/entropy.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { decodeTensor, encodeTensor, tensorModel } from '../src/entropy/tensor.ts';
import { varintLength } from '../src/entropy/bytes.ts';
import { NervReader, smallestCoding } from '../src/format/nerv.ts';
import { modelTensors, predictionStrides, validateModel } from '../src/nn/model.ts';

interface Tensor {
  name: string;
  symbols: Int32Array;
  /** Prediction strides the file writer tries for this tensor (grids), as in `writeNerv`. */
  strides: number[];
}

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (((z ^ (z >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Quantized Laplace weights: value ~ Laplace(0, b), symbol = round(value) (b in steps). */
function laplace(n: number, b: number, r: () => number, zeroFraction = 0): Int32Array {
  return Int32Array.from({ length: n }, () => {
    if (r() < zeroFraction) return 0;
    const u = r() - 0.5;
    const v = -b * Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
  });
}

function syntheticTensors(): Tensor[] {
  const r = random(2024);
  const out: Tensor[] = [];
  // Feature grids (C3/HiNeRV style), several resolutions: the bulk of the parameters.
  [[200_000, 1.2], [50_000, 2], [12_500, 3]].forEach(([n, b], i) => out.push({ name: `grid.level${i}`, symbols: laplace(n, b, r), strides: [] }));
  // Synthesis convolutions (3x3 and 1x1) and their biases.
  [[9216, 4], [4608, 6], [1152, 8], [192, 12]].forEach(([n, b], i) => out.push({ name: `conv.layer${i}.weight`, symbols: laplace(n, b, r), strides: [] }));
  [[64, 15], [32, 15], [16, 20], [3, 30]].forEach(([n, b], i) => out.push({ name: `bias.layer${i}`, symbols: laplace(n, b, r), strides: [] }));
  // Residuals of predicted groups: mostly unchanged parameters.
  [[200_000, 1, 0.97], [50_000, 1.5, 0.9], [9216, 2, 0.8]].forEach(([n, b, z], i) => out.push({ name: `residual.t${i}`, symbols: laplace(n, b, r, z), strides: [] }));
  // Wide symbols (fine quantization step): need int16.
  out.push({ name: 'wide.fine', symbols: laplace(20_000, 300, r), strides: [] });
  return out;
}

function fileTensors(path: string): Tensor[] {
  const reader = new NervReader(new Uint8Array(readFileSync(path)));
  const strides = predictionStrides(modelTensors(validateModel(reader.header.model, reader.header)));
  const out: Tensor[] = [];
  for (let k = 0; k < reader.index.length; k++) {
    reader.groupTensors(k).forEach(({ symbols }, i) => out.push({ name: reader.header.tensors[i].name, symbols, strides: strides[i] }));
  }
  return out;
}

function packNarrowest(symbols: Int32Array): { bytes: Uint8Array; width: number } {
  let min = 0;
  let max = 0;
  for (const v of symbols) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const width = min >= -128 && max <= 127 ? 1 : min >= -32768 && max <= 32767 ? 2 : 4;
  const bytes = new Uint8Array(symbols.length * width);
  const view = new DataView(bytes.buffer);
  symbols.forEach((v, i) => (width === 1 ? view.setInt8(i, v) : width === 2 ? view.setInt16(2 * i, v, true) : view.setInt32(4 * i, v, true)));
  return { bytes, width };
}

const className = (name: string) => name.split('.')[0];

function main(): void {
  const path = process.argv[2];
  const tensors = path ? fileTensors(path) : syntheticTensors();
  const rows = new Map<string, { tensors: number; symbols: number; ours: number; plain: number; predicted: number; gzip: number; brotli: number; widths: Set<number>; models: Record<string, number> }>();
  let encodeMs = 0;
  let decodeMs = 0;
  let totalSymbols = 0;
  const perTensor = [];
  for (const { name, symbols, strides } of tensors) {
    // warm-up run so the timings measure the optimised code, then a timed one
    encodeTensor(symbols);
    let start = performance.now();
    const coded = encodeTensor(symbols);
    encodeMs += performance.now() - start;
    // What the file writer stores for these absolute symbols: plain, or differences along a stride.
    const written = smallestCoding(symbols, strides);
    const ours = written.coded.length + (written.stride ? varintLength(written.stride) : 0);
    decodeTensor(coded, symbols.length);
    start = performance.now();
    const back = decodeTensor(coded, symbols.length);
    decodeMs += performance.now() - start;
    if (!back.every((v, i) => v === symbols[i])) throw new Error(`round trip failed for ${name}`);
    totalSymbols += symbols.length;
    const { bytes, width } = packNarrowest(symbols);
    const gzip = gzipSync(bytes, { level: 9 }).length;
    const brotli = brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length;
    const model = tensorModel(coded);
    perTensor.push({ name, symbols: symbols.length, width, ours, oursWithoutPrediction: coded.length, predictionStride: written.stride, gzip, brotli, model });
    const key = className(name);
    const row = rows.get(key) ?? { tensors: 0, symbols: 0, ours: 0, plain: 0, predicted: 0, gzip: 0, brotli: 0, widths: new Set<number>(), models: {} };
    row.tensors++;
    row.symbols += symbols.length;
    row.ours += ours;
    row.plain += coded.length;
    if (written.stride) row.predicted++;
    row.gzip += gzip;
    row.brotli += brotli;
    row.widths.add(width);
    row.models[model] = (row.models[model] ?? 0) + 1;
    rows.set(key, row);
  }
  const table = [...rows].map(([name, r]) => ({
    class: name,
    tensors: r.tensors,
    symbols: r.symbols,
    packedAs: [...r.widths].map((w) => `int${8 * w}`).join('/'),
    ours: r.ours,
    oursNoPrediction: r.plain,
    predicted: r.predicted,
    gzip9: r.gzip,
    brotli11: r.brotli,
    oursOverGzip: +(r.ours / r.gzip).toFixed(3),
    oursOverBrotli: +(r.ours / r.brotli).toFixed(3),
    bitsPerSymbol: +((8 * r.ours) / r.symbols).toFixed(3),
    models: r.models,
  }));
  const total = table.reduce((s, r) => ({ ours: s.ours + r.ours, gzip: s.gzip + r.gzip9, brotli: s.brotli + r.brotli11 }), { ours: 0, gzip: 0, brotli: 0 });
  const speed = {
    symbols: totalSymbols,
    encodeMsymPerS: +(totalSymbols / encodeMs / 1000).toFixed(1),
    decodeMsymPerS: +(totalSymbols / decodeMs / 1000).toFixed(1),
    encodeMBPerS: +((4 * totalSymbols) / encodeMs / 1000).toFixed(1),
    decodeMBPerS: +((4 * totalSymbols) / decodeMs / 1000).toFixed(1),
  };
  console.log(`source: ${path ?? 'synthetic Laplace tensors'}`);
  console.table(table.map(({ models, ...rest }) => ({ ...rest, models: Object.entries(models).map(([m, c]) => `${m}:${c}`).join(' ') })));
  console.log(
    `total: ours ${total.ours} B, gzip -9 ${total.gzip} B (x${(total.ours / total.gzip).toFixed(3)}), brotli -q11 ${total.brotli} B (x${(total.ours / total.brotli).toFixed(3)})`,
  );
  console.log(
    `speed: encode ${speed.encodeMsymPerS} Msymbols/s (${speed.encodeMBPerS} MB/s of int32), decode ${speed.decodeMsymPerS} Msymbols/s (${speed.decodeMBPerS} MB/s)`,
  );
  const outDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'entropy.json'),
    JSON.stringify({ source: path ?? 'synthetic', date: new Date().toISOString(), node: process.version, total, speed, classes: table, tensors: perTensor }, null, 2) + '\n',
  );
}

main();
