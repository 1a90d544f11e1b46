// Node edge: which of several WebGPU adapters trains fastest. Where Dawn offers more than one (an
// integrated and a discrete GPU, or a GPU and SwiftShader), a small matmul on each decides, once:
// the result is kept in a JSON file in the user's cache directory, keyed by the adapters present.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { BadArgumentError } from '../errors.ts';
import { writeFileAtomicSync } from '../format/atomic.ts';

export interface AdapterEntry {
  /** Position in Dawn's list: what `--adapter INDEX` means. */
  index: number;
  backend: string;
  name: string;
}

/**
 * Dawn's node binding lists its adapters only in the error it raises for an `adapter=` flag that
 * matches none ("Available adapters:\n * backend: 'vulkan', name: '...'"), so that is how nervkit
 * lists them without creating a device on each.
 */
export function parseAdapterList(message: string): AdapterEntry[] {
  return [...message.matchAll(/\* backend: '([^']*)', name: '([^'\n]*)'/g)].map((m, index) => ({ index, backend: m[1], name: m[2] }));
}

export function adapterLabel(entry: Pick<AdapterEntry, 'backend' | 'name'>): string {
  return `${entry.name} (${entry.backend})`;
}

/** `--adapter`: an index, the exact name, or a case-insensitive part of exactly one name. */
export function selectAdapter(list: AdapterEntry[], wanted: string): AdapterEntry {
  const available = () => list.map((a) => `${a.index}: ${adapterLabel(a)}`).join(', ') || 'none';
  if (/^\d+$/.test(wanted)) {
    const entry = list[Number(wanted)];
    if (!entry) throw new BadArgumentError(`--adapter ${wanted}: there is no adapter ${wanted}; available: ${available()}`);
    return entry;
  }
  const exact = list.find((a) => a.name === wanted);
  if (exact) return exact;
  const matches = list.filter((a) => a.name.toLowerCase().includes(wanted.toLowerCase()));
  if (matches.length === 1) return matches[0];
  const why = matches.length ? 'matches several adapters' : 'matches no adapter';
  throw new BadArgumentError(`--adapter '${wanted}' ${why}; available: ${available()}`);
}

/** The cache directory: $NERVKIT_CACHE_DIR, else the platform's (Linux: $XDG_CACHE_HOME/nervkit or ~/.cache/nervkit). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NERVKIT_CACHE_DIR || envPaths('nervkit', { suffix: '' }).cache;
}

interface CacheFile {
  version: 1;
  /** Per set of adapters (the key): GFLOP/s of the benchmark matmul on each, by adapter key. */
  benchmarks: Record<string, { measuredAt: string; gflops: Record<string, number> }>;
}

const CACHE_NAME = 'adapters.json';

/** Stable names for the adapters of one list (a repeated name gets #2, #3...). */
export function adapterKeys(list: AdapterEntry[]): string[] {
  const seen = new Map<string, number>();
  return list.map((a) => {
    const base = `${a.backend}:${a.name}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

function readCache(dir: string): CacheFile {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, CACHE_NAME), 'utf8')) as CacheFile;
    if (parsed.version === 1 && parsed.benchmarks && typeof parsed.benchmarks === 'object') return parsed;
  } catch {
    /* missing or unreadable: measure again */
  }
  return { version: 1, benchmarks: {} };
}

/** The cached measurements for this set of adapters, if any. */
export function cachedBenchmark(dir: string, setKey: string): Record<string, number> | undefined {
  return readCache(dir).benchmarks[setKey]?.gflops;
}

export interface FastestAdapter {
  adapter: AdapterEntry;
  gflops: Record<string, number>;
  /** Whether the numbers came from the cache (no benchmark ran). */
  cached: boolean;
}

/**
 * The adapter with the highest measured GFLOP/s. `measure` runs only on a cache miss; a failing
 * adapter counts as 0. An unwritable cache directory only means measuring again next time.
 */
export async function fastestAdapter(
  list: AdapterEntry[],
  setKey: string,
  measure: (adapter: AdapterEntry) => Promise<number>,
  dir: string = cacheDir(),
): Promise<FastestAdapter> {
  if (list.length === 0) throw new BadArgumentError('fastestAdapter needs at least one adapter');
  const keys = adapterKeys(list);
  let gflops = cachedBenchmark(dir, setKey);
  const cached = !!gflops && keys.every((k) => typeof gflops![k] === 'number');
  if (!cached) {
    gflops = {};
    for (const [i, adapter] of list.entries()) gflops[keys[i]] = await measure(adapter).catch(() => 0);
    const file = readCache(dir);
    file.benchmarks[setKey] = { measuredAt: new Date().toISOString(), gflops };
    try {
      mkdirSync(dir, { recursive: true });
      writeFileAtomicSync(join(dir, CACHE_NAME), new TextEncoder().encode(`${JSON.stringify(file, null, 2)}\n`));
    } catch {
      /* see above */
    }
  }
  let best = 0;
  for (let i = 1; i < list.length; i++) if (gflops![keys[i]] > gflops![keys[best]]) best = i;
  return { adapter: list[best], gflops: gflops!, cached };
}
