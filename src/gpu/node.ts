// Node-only edge: WebGPU through Dawn (the `webgpu` package), on the adapter that trains fastest.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoGpuError } from '../errors.ts';
import { GpuContext } from './context.ts';
import { matmulRoofline } from './kernels/matmul.ts';
import { adapterKeys, adapterLabel, cachedBenchmark, cacheDir, fastestAdapter, parseAdapterList, selectAdapter, type AdapterEntry } from './adapters.ts';
import { configureVulkanDrivers } from './vulkan.ts';

/**
 * Dawn instances must outlive their adapters and devices, and JS holds no other reference to them:
 * a collected instance takes its event loop with it (Dawn then aborts in ProcessEvents with
 * "std::system_error" or SIGSEGV). So one navigator.gpu-like object serves the whole process, and
 * every instance made on the way is kept.
 */
let shared: Promise<GPU> | undefined;
const liveInstances: GPU[] = [];

export interface AdapterChoice extends AdapterEntry {
  /** How many adapters Dawn offered. */
  of: number;
  /** only: the one adapter; chosen: --adapter / NERVKIT_ADAPTER; measured / cached: the benchmark's pick. */
  how: 'only' | 'chosen' | 'measured' | 'cached';
  /** GFLOP/s of the benchmark matmul, when one ran (now or before). */
  gflops?: number;
}

let preference: string | undefined = process.env.NERVKIT_ADAPTER || undefined;
let choice: AdapterChoice | undefined;

/** Use this adapter (index or name, see selectAdapter) instead of the fastest; call before the first device. */
export function preferAdapter(nameOrIndex: string | undefined): void {
  preference = nameOrIndex;
}

/** The adapter Node's WebGPU uses, once a device was requested. */
export function chosenAdapter(): AdapterChoice | undefined {
  return choice;
}

/** One phrase for progress lines: "SwiftShader Device (Subzero) (vulkan)", plus why when there was a choice. */
export function describeAdapter(adapter: AdapterChoice | undefined = choice): string {
  if (!adapter) return 'no WebGPU adapter';
  const label = adapterLabel(adapter);
  if (adapter.how === 'only') return label;
  if (adapter.how === 'chosen') return `${label}, chosen with --adapter`;
  return `${label}, the fastest of ${adapter.of} (${adapter.gflops?.toFixed(1)} GFLOP/s${adapter.how === 'cached' ? ', measured before' : ''})`;
}

/** A navigator.gpu-like object bound to the chosen adapter. */
export function nodeGpu(): Promise<GPU> {
  shared ??= createNodeGpu().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

type WebGpuModule = typeof import('webgpu');

interface Dawn {
  webgpu: WebGpuModule;
  flags: string[];
}

let dawn: Promise<Dawn> | undefined;

function loadDawn(): Promise<Dawn> {
  dawn ??= (async () => {
    configureVulkanDrivers();
    // Without it the Vulkan loader's Wayland probe prints "XDG_RUNTIME_DIR is invalid" on every run
    // (headless servers, CI); a private empty directory satisfies it.
    if (!process.env.XDG_RUNTIME_DIR) {
      const dir = join(tmpdir(), `nervkit-xdg-${process.getuid?.() ?? 'user'}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = dir;
    }
    let webgpu: WebGpuModule;
    try {
      webgpu = await import('webgpu');
    } catch (cause) {
      dawn = undefined;
      throw new NoGpuError('the `webgpu` npm package could not be loaded (run `npm install`)', { cause });
    }
    Object.assign(globalThis, webgpu.globals);
    // Kernels validate every size before dispatch, so Dawn's bounds checks only cost time (2x on
    // SwiftShader). NERVKIT_ROBUSTNESS=1 keeps them on; one test run does, to catch a bad index.
    const flags = process.env.NERVKIT_ROBUSTNESS === '1' ? [] : ['enable-dawn-features=disable_robustness'];
    return { webgpu, flags };
  })();
  return dawn;
}

function instance({ webgpu, flags }: Dawn, extra: string[] = []): GPU {
  const gpu = webgpu.create([...flags, ...extra]);
  liveInstances.push(gpu);
  return gpu;
}

function pinned(d: Dawn, adapter: AdapterEntry): GPU {
  return instance(d, [`adapter=${adapter.name}`, `backend=${adapter.backend}`]);
}

/** Every adapter Dawn offers, in its order (the indexes `--adapter` takes). */
export async function listAdapters(): Promise<AdapterEntry[]> {
  const d = await loadDawn();
  try {
    // No adapter has this name: Dawn answers with the list of those it has.
    await instance(d, ['adapter=\u0001nervkit-lists-adapters']).requestAdapter();
    return [];
  } catch (error) {
    return parseAdapterList(error instanceof Error ? error.message : String(error));
  }
}

/** The benchmark matmul's GFLOP/s on one adapter: small enough to take seconds on a CPU adapter. */
async function measureAdapter(d: Dawn, entry: AdapterEntry): Promise<number> {
  const adapter = await pinned(d, entry).requestAdapter();
  if (!adapter) return 0;
  const device = await adapter.requestDevice();
  try {
    return (await matmulRoofline(new GpuContext(device), 2048, 128, 128, { repeats: 2, batches: 2 })).gflops;
  } finally {
    device.destroy();
  }
}

/** Key of a set of adapters in the benchmark cache: a new driver or Dawn version measures again. */
async function adapterSetKey(list: AdapterEntry[]): Promise<string> {
  const { createRequire } = await import('node:module');
  const version = (createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version;
  return `webgpu ${version}: ${adapterKeys(list).join(', ')}`;
}

/** Measured GFLOP/s per adapter key, from the cache only (for `nervkit adapters`). */
export async function cachedAdapterSpeeds(list: AdapterEntry[]): Promise<Record<string, number> | undefined> {
  return cachedBenchmark(cacheDir(), await adapterSetKey(list));
}

async function createNodeGpu(): Promise<GPU> {
  const d = await loadDawn();
  const list = await listAdapters();
  // No adapter: answer null, as Dawn would (device.ts explains what to install), without creating
  // another instance that repeats the Vulkan loader's complaints.
  if (list.length === 0) return { requestAdapter: async () => null } as unknown as GPU;
  const setKey = await adapterSetKey(list);
  if (preference !== undefined) {
    choice = { ...selectAdapter(list, preference), of: list.length, how: 'chosen' };
  } else if (list.length === 1) {
    choice = { ...list[0], of: 1, how: 'only' };
  } else {
    const fastest = await fastestAdapter(list, setKey, (entry) => measureAdapter(d, entry));
    const key = adapterKeys(list)[fastest.adapter.index];
    choice = { ...fastest.adapter, of: list.length, how: fastest.cached ? 'cached' : 'measured', gflops: fastest.gflops[key] };
  }
  return pinned(d, choice);
}
