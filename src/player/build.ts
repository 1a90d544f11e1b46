// Node edge: builds the ESM browser bundle with esbuild (`npm run build:browser`, and `nervkit play`).
// WGSL is already inlined (src/gpu/shaders.gen.ts); the Node-only GPU edge (src/gpu/node.ts) is only
// reachable through a non-literal dynamic import, so esbuild leaves it out; any node:* import that
// leaks into core code fails the build (platform 'browser').
import { fileURLToPath } from 'node:url';
import { NervError } from '../errors.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE_PATH = fileURLToPath(new URL('../../dist/nervkit.browser.js', import.meta.url));

export interface BuildOptions {
  outfile?: string;
  minify?: boolean;
  /** Write nothing; return the code. */
  write?: boolean;
}

export async function buildBrowserBundle(options: BuildOptions = {}): Promise<{ path: string; code: string; bytes: number }> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (cause) {
    throw new NervError('IO', 'building the browser bundle needs esbuild (npm install -D esbuild)', { cause });
  }
  const outfile = options.outfile ?? BUNDLE_PATH;
  // esbuild's service process must not outlive the build: with it running, Dawn (the `webgpu`
  // package) aborts the process on its next GPU call ("std::system_error: Invalid argument").
  const result = await esbuild
    .build({
      entryPoints: [fileURLToPath(new URL('./browser.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outfile,
      write: options.write ?? true,
      minify: options.minify ?? false,
      sourcemap: options.write === false ? false : 'linked',
      legalComments: 'none',
      logLevel: 'silent',
      metafile: true,
    })
    .finally(() => esbuild.stop());
  const leaked = Object.keys(result.metafile.inputs).filter((input) => /(^|\/)node:|src\/gpu\/node\.ts$/.test(input));
  if (leaked.length) throw new NervError('BAD_INPUT', `Node-only modules leaked into the browser bundle: ${leaked.join(', ')}`);
  const code = result.outputFiles?.find((f) => f.path.endsWith('.js'))?.text ?? (await import('node:fs')).readFileSync(outfile, 'utf8');
  return { path: outfile, code, bytes: new TextEncoder().encode(code).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const minify = process.argv.includes('--minify');
  buildBrowserBundle({ minify }).then(
    ({ path, bytes }) => process.stdout.write(`wrote ${path} (${(bytes / 1024).toFixed(1)} KiB)\n`),
    (error) => {
      process.stderr.write(`build:browser: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
