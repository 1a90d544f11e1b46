import { NoGpuError } from '../errors.ts';

export interface DeviceOptions {
  /** Prefer a low-power adapter (browsers may pick an integrated GPU). */
  powerPreference?: GPUPowerPreference;
  /** Optional features to enable where the adapter has them (e.g. 'timestamp-query' for benchmarks). */
  features?: GPUFeatureName[];
}

/** Limits we raise above the WebGPU defaults when the adapter allows it. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
] as const;

/**
 * Returns a GPUDevice in Node (Dawn via the `webgpu` package), Deno and browsers
 * (`navigator.gpu`). Throws NoGpuError, naming what to install, when no adapter exists.
 */
export async function requestGpuDevice(options: DeviceOptions = {}): Promise<GPUDevice> {
  const gpu = await findGpu();
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  } catch (cause) {
    throw new NoGpuError(`requesting a WebGPU adapter failed: ${String(cause)}`, { cause });
  }
  if (!adapter) throw new NoGpuError(noAdapterHint());
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = (options.features ?? []).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return device;
}

async function findGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  quietDenoVulkanLoader();
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node && !('Deno' in globalThis);
  if (isNode) {
    // Kept out of the browser bundle: the Node edge loads Dawn and reads the file system.
    const nodeModule = './node.ts';
    const { nodeGpu } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('./node.ts');
    return nodeGpu();
  }
  throw new NoGpuError('this runtime has no navigator.gpu: use a browser with WebGPU, Deno 2, or Node with the `webgpu` package');
}

interface DenoEnv {
  permissions: { querySync(descriptor: { name: 'env'; variable: string }): { state: string } };
  env: { get(name: string): string | undefined; set(name: string, value: string): void };
}

/**
 * Deno's WebGPU (wgpu) loads Vulkan, whose Wayland probe prints "XDG_RUNTIME_DIR is invalid or not
 * set in the environment" twice on headless machines. Any value quiets it (without a Wayland socket
 * there, the probe just finds nothing); the variable can be set only with --allow-env, so without
 * that permission nothing changes.
 */
function quietDenoVulkanLoader(): void {
  const deno = (globalThis as { Deno?: DenoEnv }).Deno;
  if (!deno) return;
  try {
    if (deno.permissions.querySync({ name: 'env', variable: 'XDG_RUNTIME_DIR' }).state !== 'granted') return;
    if (!deno.env.get('XDG_RUNTIME_DIR')) deno.env.set('XDG_RUNTIME_DIR', '/tmp');
  } catch {
    /* an older Deno without these APIs: leave the environment alone */
  }
}

export function noAdapterHint(): string {
  return (
    'no WebGPU adapter found. On Linux without a GPU install a software Vulkan driver: ' +
    '`apt-get install chromium` (SwiftShader, used by Node automatically) or `apt-get install mesa-vulkan-drivers` (lavapipe, for Deno)'
  );
}
