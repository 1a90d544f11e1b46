// Node-only edge: WebGPU through Dawn (the `webgpu` package).
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoGpuError } from '../errors.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Dawn instances must outlive their adapters and devices, and JS holds no other reference to them:
 * a collected instance takes its event loop with it (Dawn then aborts in ProcessEvents with
 * "std::system_error" or SIGSEGV). So one navigator.gpu-like object serves the whole process.
 */
let shared: Promise<GPU> | undefined;
const liveInstances: GPU[] = [];

/** A navigator.gpu-like object whose requestAdapter falls back to SwiftShader. */
export function nodeGpu(): Promise<GPU> {
  shared ??= createNodeGpu();
  return shared;
}

async function createNodeGpu(): Promise<GPU> {
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (cause) {
    shared = undefined;
    throw new NoGpuError('the `webgpu` npm package could not be loaded (run `npm install`)', { cause });
  }
  Object.assign(globalThis, webgpu.globals);
  // Without it the Vulkan loader's Wayland probe prints "XDG_RUNTIME_DIR is invalid" on every run
  // (headless servers, CI); a private empty directory satisfies it.
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `nervkit-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  // Kernels validate every size before dispatch, so Dawn's bounds checks only cost time (2x on
  // SwiftShader). NERVKIT_ROBUSTNESS=1 keeps them on; one test run does, to catch a bad index.
  const flags = process.env.NERVKIT_ROBUSTNESS === '1' ? [] : ['enable-dawn-features=disable_robustness'];
  const create = () => {
    const instance = webgpu.create(flags);
    liveInstances.push(instance);
    return instance;
  };
  let gpu = create();
  let fellBack = false;
  const fallback = {
    async requestAdapter(options?: GPURequestAdapterOptions) {
      const adapter = await gpu.requestAdapter(options);
      if (adapter || fellBack || process.env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return adapter;
      // No usable Vulkan driver (Dawn rejects Debian's lavapipe): Chromium's SwiftShader is
      // accepted, and the Vulkan loader reads this variable each time Dawn creates an instance.
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      fellBack = true;
      gpu = create();
      return gpu.requestAdapter(options);
    },
    getPreferredCanvasFormat: () => 'rgba8unorm' as GPUTextureFormat,
    wgslLanguageFeatures: new Set<string>(),
  };
  return fallback as unknown as GPU;
}
