// Node-only edge: WebGPU through Dawn (the `webgpu` package).
import { existsSync } from 'node:fs';
import { NoGpuError } from '../errors.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Returns a navigator.gpu-like object whose requestAdapter falls back to SwiftShader. */
export async function nodeGpu(): Promise<GPU> {
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (cause) {
    throw new NoGpuError('the `webgpu` npm package could not be loaded (run `npm install`)', { cause });
  }
  Object.assign(globalThis, webgpu.globals);
  // Kernels validate every size before dispatch, so Dawn's bounds checks only cost time (2x on
  // SwiftShader). NERVKIT_ROBUSTNESS=1 keeps them on; one test run does, to catch a bad index.
  const flags = process.env.NERVKIT_ROBUSTNESS === '1' ? [] : ['enable-dawn-features=disable_robustness'];
  const gpu = webgpu.create(flags);
  const fallback = {
    async requestAdapter(options?: GPURequestAdapterOptions) {
      const adapter = await gpu.requestAdapter(options);
      if (adapter || process.env.VK_ICD_FILENAMES || !existsSync(SWIFTSHADER_ICD)) return adapter;
      // No usable Vulkan driver (Dawn rejects Debian's lavapipe): Chromium's SwiftShader is
      // accepted, and the Vulkan loader reads this variable each time Dawn creates an instance.
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      return webgpu.create(flags).requestAdapter(options);
    },
  };
  return fallback as unknown as GPU;
}
