// Node edge, Linux: which Vulkan drivers (ICDs) Dawn gets to see.
//
// Dawn (the `webgpu` package) rejects Debian 12's lavapipe and says so in three lines of
// "Warning: Vulkan shaderUniform*ArrayDynamicIndexing required ... at InitializeImpl" on stderr, on
// every run, before any adapter is chosen. Chromium's SwiftShader, which Dawn accepts, is not in the
// loader's search path at all. So before the first Dawn instance exists, nervkit lists the ICD
// manifests the loader would find, leaves out lavapipe's, adds SwiftShader's, and names the result in
// VK_ICD_FILENAMES / VK_DRIVER_FILES. Every other driver (a real GPU's) stays listed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';

/** Where Chromium packages put SwiftShader's ICD manifest (Debian/Ubuntu, Fedora, Google Chrome). */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

export interface IcdManifest {
  path: string;
  /** ICD.library_path: the driver's shared library. */
  library: string;
}

/** Drivers Dawn refuses: listing them only makes Dawn print warnings. */
export function dawnRejects(icd: IcdManifest): boolean {
  return /(^|\/)libvulkan_lvp\.so/.test(icd.library);
}

/** The Vulkan loader's ICD manifest folders on Linux, in its search order. */
export function icdSearchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const configDirs = [env.XDG_CONFIG_HOME ?? join(home, '.config'), ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'), '/etc'];
  const dataDirs = [env.XDG_DATA_HOME ?? join(home, '.local/share'), ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')];
  return [...new Set([...configDirs, ...dataDirs].filter(Boolean).map((dir) => join(dir, 'vulkan', 'icd.d')))];
}

/** Every readable ICD manifest in `dirs` (unreadable or malformed ones are skipped, as the loader does). */
export function findIcdManifests(dirs: string[]): IcdManifest[] {
  const found: IcdManifest[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((name) => name.endsWith('.json'))
        .sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const manifest = readManifest(join(dir, name));
      if (manifest) found.push(manifest);
    }
  }
  return found;
}

function readManifest(path: string): IcdManifest | undefined {
  try {
    const library = (JSON.parse(readFileSync(path, 'utf8')) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
    return typeof library === 'string' ? { path, library } : undefined;
  } catch {
    return undefined;
  }
}

export interface DriverChoice {
  /** The manifests to name in VK_ICD_FILENAMES, or undefined to leave the loader's own search alone. */
  files?: string[];
  /** Left out because Dawn rejects them. */
  hidden: IcdManifest[];
}

/** Keeps every driver Dawn accepts, adds SwiftShader; undefined files when that changes nothing. */
export function chooseDrivers(found: IcdManifest[], swiftshader: string | undefined): DriverChoice {
  const hidden = found.filter(dawnRejects);
  const kept = found.filter((icd) => !dawnRejects(icd)).map((icd) => icd.path);
  const alreadyFound = found.some((icd) => basename(icd.library).includes('swiftshader'));
  const add = swiftshader && !alreadyFound ? [swiftshader] : [];
  if (hidden.length === 0 && add.length === 0) return { hidden };
  const files = [...kept, ...add];
  return { files: files.length ? files : undefined, hidden };
}

/**
 * Points the Vulkan loader at the drivers Dawn accepts, unless the user already chose
 * (VK_ICD_FILENAMES or VK_DRIVER_FILES set) or this is not Linux. Must run before the first Dawn
 * instance is created: the loader reads these variables then.
 */
export function configureVulkanDrivers(env: NodeJS.ProcessEnv = process.env): DriverChoice {
  if (process.platform !== 'linux' || env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return { hidden: [] };
  const choice = chooseDrivers(
    findIcdManifests(icdSearchDirs(env)),
    SWIFTSHADER_ICDS.find((path) => existsSync(path)),
  );
  if (choice.files) {
    // Loaders before 1.3.207 read VK_ICD_FILENAMES; later ones prefer VK_DRIVER_FILES.
    env.VK_ICD_FILENAMES = choice.files.join(':');
    env.VK_DRIVER_FILES = choice.files.join(':');
  }
  return choice;
}
