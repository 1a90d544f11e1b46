// Helpers for the fused kernels that read the packed parameters (src/nn/layers.ts packedLayout) as
// one uniform array and write per-chunk gradient records that adam_packed sums.

/** One producer of parameter gradients: a contiguous vec4 range of the packed parameters, one record per chunk. */
export interface GradientSource {
  /** First vec4 of the packed parameters it covers, and how many (the record's size). */
  firstVec4: number;
  vec4s: number;
  /** Where its records start in the shared partial buffer (vec4s), and how many records (chunks) it writes. */
  partialBase: number;
  chunks: number;
}

const XYZW = 'xyzw';

/** WGSL for packed parameter `k`: a constant-index read of the uniform array `params`. */
export const paramRef = (k: number) => `params[${k >> 2}].${XYZW[k & 3]}`;

/** Sum of WGSL terms left to right (the order the generic kernels add in), or 0.0 for none. */
export const sumTerms = (terms: string[]) => (terms.length ? terms.join(' + ') : '0.0');

/**
 * WGSL storing a record: vec4 q of the packed range starting at `firstVec4` gets the accumulators
 * `name(k)` of its elements k that `used` holds, zeros elsewhere (padding between tensors).
 */
export function storeRecord(firstVec4: number, vec4s: number, used: Set<number>, name: (k: number) => string, indent = '  '): string {
  const lines: string[] = [];
  for (let q = 0; q < vec4s; q++) {
    const parts = [0, 1, 2, 3].map((c) => (used.has(4 * (firstVec4 + q) + c) ? name(4 * (firstVec4 + q) + c) : '0.0'));
    lines.push(`${indent}partial[PARTIAL_BASE + chunk * ${vec4s}u + ${q}u] = vec4f(${parts.join(', ')});`);
  }
  return lines.join('\n');
}

/** The vec4 range of the packed parameters that a set of tensors occupies; they must be contiguous. */
export function packedRange(layout: { offsets: number[]; sizes: number[] }, tensors: number[]): { firstVec4: number; vec4s: number } {
  const first = Math.min(...tensors.map((i) => layout.offsets[i]));
  const end = Math.max(...tensors.map((i) => layout.offsets[i] + Math.ceil(layout.sizes[i] / 4) * 4));
  const covered = tensors.reduce((sum, i) => sum + Math.ceil(layout.sizes[i] / 4) * 4, 0);
  if (covered !== end - first) throw new Error('tensors are not contiguous in the packed layout');
  return { firstVec4: first / 4, vec4s: (end - first) / 4 };
}

/** Per-element gradient accumulators `g{k}` (k: packed parameter index) of a fused backward kernel. */
export function gradientAccumulators() {
  const used = new Set<number>();
  return {
    /** The accumulator of packed parameter k. */
    acc: (k: number) => {
      used.add(k);
      return `g${k}`;
    },
    declare: () =>
      [...used]
        .sort((a, b) => a - b)
        .map((k) => `  var g${k} = 0.0;`)
        .join('\n'),
    /** Stores them as one record of the packed range (zeros where no accumulator exists). */
    store: (range: { firstVec4: number; vec4s: number }) => storeRecord(range.firstVec4, range.vec4s, used, (k) => `g${k}`),
  };
}

/** Emits `line` the first time `name` is asked for (values shared by several unrolled taps), and returns the name. */
export function declareOnce(lines: string[]) {
  const declared = new Set<string>();
  return (name: string, line: string) => {
    if (!declared.has(name)) lines.push(line);
    declared.add(name);
    return name;
  };
}
