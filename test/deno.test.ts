// Runs examples/deno.ts with the npm `deno` binary: the library imports, encodes a tiny clip and
// decodes it in Deno on its own WebGPU (lavapipe here), with no Node-only module on the way.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DENO = `${ROOT}node_modules/.bin/deno`;

function runDeno(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // As on a headless server: no XDG_RUNTIME_DIR, which the Vulkan loader's Wayland probe complains
    // about unless the library may set it (--allow-env=XDG_RUNTIME_DIR, the only permission it uses).
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.XDG_RUNTIME_DIR;
    // Under AVA's 5-minute test limit; a loaded 2-core machine needs minutes for WebGPU on the CPU.
    execFile(DENO, ['run', '--no-prompt', ...args], { cwd: ROOT, env, timeout: 270_000 }, (error, stdout, stderr) => {
      const killed = (error as { killed?: boolean } | null)?.killed;
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr: killed ? `deno timed out after 270 s\n${stderr}` : stderr });
    });
  });
}

test('the npm deno binary is installed', (t) => {
  t.true(existsSync(DENO), 'npm install -D deno provides node_modules/.bin/deno');
});

test('examples/deno.ts encodes and decodes a clip on Deno WebGPU, with nothing on stderr', async (t) => {
  const { code, stdout, stderr } = await runDeno([
    '--allow-env=XDG_RUNTIME_DIR',
    'examples/deno.ts',
    '--size',
    '29x19',
    '--frames',
    '5',
    '--steps',
    '40',
    '--json',
  ]);
  t.is(code, 0, stderr);
  t.is(stderr, '', 'no Vulkan loader or Wayland lines');
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    runtime: string;
    backend: string;
    frames: number;
    bytes: number;
    encodePsnr: number;
    decodedPsnr: number;
  };
  t.regex(summary.runtime, /^deno 2\./);
  t.is(summary.backend, 'webgpu');
  t.is(summary.frames, 5);
  t.true(summary.bytes > 0);
  // The decoder reproduces what the encoder measured (closed loop), so the two PSNRs agree closely.
  t.true(Number.isFinite(summary.decodedPsnr) && summary.decodedPsnr > 15, `decoded PSNR ${summary.decodedPsnr}`);
  t.true(Math.abs(summary.decodedPsnr - summary.encodePsnr) < 0.05, `decoded ${summary.decodedPsnr} vs encoder ${summary.encodePsnr}`);
});

test('core modules (join included) and the player import in Deno without any permission (no node:* module on the way)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nervkit-deno-'));
  const script = join(dir, 'imports.ts');
  const url = (path: string) => JSON.stringify(new URL(path, `file://${ROOT}`).href);
  writeFileSync(
    script,
    `
    const lib = await import(${url('src/index.ts')});
    const player = await import(${url('src/player/index.ts')});
    console.log(JSON.stringify({ open: typeof lib.open, encode: typeof lib.encode, join: typeof lib.joinSegments, stream: typeof player.NervStream, element: typeof player.defineNervVideoElement }));
  `,
  );
  try {
    const { code, stdout, stderr } = await runDeno([script]);
    t.is(code, 0, stderr);
    t.deepEqual(JSON.parse(stdout.trim()), { open: 'function', encode: 'function', join: 'function', stream: 'function', element: 'function' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
