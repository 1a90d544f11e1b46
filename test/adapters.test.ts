// Adapter choice without a GPU: the Vulkan driver list Dawn gets, Dawn's adapter list, --adapter,
// and the one-time benchmark with its cache (measurements injected).
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterKeys, cacheDir, fastestAdapter, parseAdapterList, selectAdapter, type AdapterEntry } from '../src/gpu/adapters.ts';
import { tempDir } from './helpers/cli.ts';
import { chooseDrivers, configureVulkanDrivers, findIcdManifests, icdSearchDirs, type IcdManifest } from '../src/gpu/vulkan.ts';

const freshDir = () => tempDir('nervkit-adapters-');

const icd = (path: string, library: string): IcdManifest => ({ path, library });
const LVP = icd('/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so');
const INTEL = icd('/usr/share/vulkan/icd.d/intel_icd.x86_64.json', '/usr/lib/x86_64-linux-gnu/libvulkan_intel.so');
const NVIDIA = icd('/etc/vulkan/icd.d/nvidia_icd.json', 'libGLX_nvidia.so.0');
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

test('Dawn sees every driver but lavapipe, plus SwiftShader; a real GPU driver is never hidden', (t) => {
  t.deepEqual(chooseDrivers([INTEL, LVP, NVIDIA], SWIFTSHADER), { files: [INTEL.path, NVIDIA.path, SWIFTSHADER], hidden: [LVP] });
  t.deepEqual(chooseDrivers([LVP], undefined), { files: undefined, hidden: [LVP] }, 'nothing left: the loader finds nothing either way');
  t.deepEqual(chooseDrivers([NVIDIA], undefined), { hidden: [] }, 'no change needed: the loader searches as usual');
  const bundled = icd('/usr/share/vulkan/icd.d/vk_swiftshader_icd.json', './libvk_swiftshader.so');
  t.deepEqual(chooseDrivers([bundled], SWIFTSHADER), { hidden: [] }, 'SwiftShader already installed as a driver');
});

test('ICD manifests are read from the loader folders; malformed ones are skipped', (t) => {
  const root = freshDir();
  const share = join(root, 'share', 'vulkan', 'icd.d');
  mkdirSync(share, { recursive: true });
  writeFileSync(join(share, 'lvp_icd.json'), JSON.stringify({ ICD: { library_path: '/lib/libvulkan_lvp.so' } }));
  writeFileSync(join(share, 'broken.json'), '{');
  writeFileSync(join(share, 'readme.txt'), 'not a manifest');
  const env = { HOME: root, XDG_DATA_DIRS: join(root, 'share'), XDG_CONFIG_DIRS: join(root, 'etc') };
  const dirs = icdSearchDirs(env);
  t.true(dirs.includes(share));
  t.true(dirs.includes('/etc/vulkan/icd.d'));
  t.deepEqual(
    findIcdManifests(dirs).filter((m) => m.path.startsWith(root)),
    [{ path: join(share, 'lvp_icd.json'), library: '/lib/libvulkan_lvp.so' }],
  );
});

test('a driver list the user chose is left alone', (t) => {
  const env: NodeJS.ProcessEnv = { VK_ICD_FILENAMES: '/my/icd.json' };
  t.deepEqual(configureVulkanDrivers(env), { hidden: [] });
  t.deepEqual(env, { VK_ICD_FILENAMES: '/my/icd.json' });
  const other: NodeJS.ProcessEnv = { VK_DRIVER_FILES: '/my/icd.json' };
  configureVulkanDrivers(other);
  t.deepEqual(other, { VK_DRIVER_FILES: '/my/icd.json' });
});

const LIST: AdapterEntry[] = [
  { index: 0, backend: 'vulkan', name: 'SwiftShader Device (Subzero)' },
  { index: 1, backend: 'vulkan', name: 'NVIDIA GeForce RTX 4090' },
  { index: 2, backend: 'vulkan', name: 'Intel(R) UHD Graphics 770' },
];

test("Dawn's adapter list is parsed from the error it gives for an unknown adapter name", (t) => {
  const message =
    "no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'SwiftShader Device (Subzero)'\n * backend: 'vulkan', name: 'NVIDIA GeForce RTX 4090'\n * backend: 'vulkan', name: 'Intel(R) UHD Graphics 770'";
  t.deepEqual(parseAdapterList(message), LIST);
  t.deepEqual(parseAdapterList('no suitable backends found\nAvailable adapters:\n'), []);
});

test('--adapter takes an index, the exact name, or a part of exactly one name', (t) => {
  t.is(selectAdapter(LIST, '1').name, 'NVIDIA GeForce RTX 4090');
  t.is(selectAdapter(LIST, 'Intel(R) UHD Graphics 770').index, 2);
  t.is(selectAdapter(LIST, 'swiftshader').index, 0);
  t.throws(() => selectAdapter(LIST, '3'), { message: /there is no adapter 3; available: 0: SwiftShader/ });
  t.throws(() => selectAdapter(LIST, 'e'), { message: /matches several adapters/ });
  t.throws(() => selectAdapter(LIST, 'radeon'), { message: /matches no adapter; available: 0: .*, 1: NVIDIA .*, 2: Intel/ });
});

test('the fastest adapter is measured once and then read from the cache', async (t) => {
  const dir = join(freshDir(), 'cache');
  const speeds: Record<string, number> = { SwiftShader: 3.1, NVIDIA: 900, Intel: 120 };
  const measured: string[] = [];
  const measure = async (a: AdapterEntry) => {
    measured.push(a.name);
    if (a.name.startsWith('Intel')) throw new Error('device lost');
    return speeds[a.name.split(' ')[0]];
  };
  const first = await fastestAdapter(LIST, 'set A', measure, dir);
  t.is(first.adapter.index, 1);
  t.false(first.cached);
  t.deepEqual(first.gflops, { 'vulkan:SwiftShader Device (Subzero)': 3.1, 'vulkan:NVIDIA GeForce RTX 4090': 900, 'vulkan:Intel(R) UHD Graphics 770': 0 });
  const again = await fastestAdapter(LIST, 'set A', measure, dir);
  t.true(again.cached);
  t.is(again.adapter.index, 1);
  t.is(measured.length, 3, 'no second benchmark');
  const other = await fastestAdapter(LIST.slice(0, 1).concat(LIST[2]), 'set B', measure, dir);
  t.is(other.adapter.index, 0, 'a failing adapter counts as 0');
  t.is(measured.length, 5);
  const file = JSON.parse(readFileSync(join(dir, 'adapters.json'), 'utf8'));
  t.deepEqual(Object.keys(file.benchmarks).sort(), ['set A', 'set B']);
});

test('an unwritable cache folder only means measuring again; NERVKIT_CACHE_DIR overrides the location', async (t) => {
  const file = join(freshDir(), 'a-file');
  writeFileSync(file, '');
  let runs = 0;
  const measure = async () => ++runs;
  // A folder inside a plain file cannot exist, whoever runs the test (root ignores permissions).
  await fastestAdapter(LIST.slice(0, 2), 'k', measure, join(file, 'cache'));
  await fastestAdapter(LIST.slice(0, 2), 'k', measure, join(file, 'cache'));
  t.is(runs, 4);
  t.is(cacheDir({ NERVKIT_CACHE_DIR: '/x/y' }), '/x/y');
  t.regex(cacheDir({}), /nervkit/);
  t.deepEqual(adapterKeys([LIST[0], { ...LIST[0], index: 1 }]), ['vulkan:SwiftShader Device (Subzero)', 'vulkan:SwiftShader Device (Subzero)#2']);
});
