// `nervkit play file.nerv`: serves the example player page, the browser bundle and the file on
// 127.0.0.1 (node:http), prints the URL, and runs until Ctrl-C. Node edge.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NervError } from '../errors.ts';
import { readNervPrefix } from '../format/index.ts';
import { naming, readNerv } from './files.ts';
import { addInterruptNote, onInterrupt, setInterruptProgress } from './interrupt.ts';
import { buildBrowserBundle } from '../player/build.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export interface PlayServerOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** .nerv files served by name (`/name.nerv`); values are paths or the bytes themselves. */
  videos: Record<string, string | Uint8Array>;
  /** The bundle's code; built with esbuild when absent. */
  bundle?: string;
  /**
   * Streaming test hook: the named video's responses stop after this many bytes until `release()` is
   * called, as a slow network would.
   */
  holdAfter?: Record<string, number>;
}

export interface PlayServer {
  /** Base URL, ending in '/'. */
  url: string;
  port: number;
  /** URL of the player page showing the named video. */
  pageUrl(video: string): string;
  /** Lets held .nerv responses (holdAfter) finish. */
  release(): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.nerv': 'application/octet-stream',
};

export async function startPlayServer(options: PlayServerOptions): Promise<PlayServer> {
  const host = options.host ?? '127.0.0.1';
  const bundle = options.bundle ?? (await buildBrowserBundle({ write: false })).code;
  const page = await readFile(`${EXAMPLES}player.html`);
  const script = await readFile(`${EXAMPLES}player.js`);
  const videos = new Map<string, Uint8Array>();
  for (const [name, value] of Object.entries(options.videos)) {
    videos.set(name, typeof value === 'string' ? await readNervFile(value) : value);
  }
  let released = false;
  const waiting: (() => void)[] = [];
  const held = () => (released ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve)));

  const routes = new Map<string, { type: string; body: Uint8Array | string }>([
    ['/', { type: TYPES['.html'], body: page }],
    ['/player.html', { type: TYPES['.html'], body: page }],
    ['/player.js', { type: TYPES['.js'], body: script }],
    ['/nervkit.browser.js', { type: TYPES['.js'], body: bundle }],
  ]);

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      response.writeHead(400, { 'content-type': 'text/plain' }).end('malformed URL\n');
      return;
    }
    response.setHeader('cache-control', 'no-store');
    const video = path.endsWith('.nerv') ? videos.get(path.slice(1)) : undefined;
    if (video) {
      response.writeHead(200, { 'content-type': TYPES['.nerv'], 'content-length': String(video.length) });
      void sendVideo(response, video, options.holdAfter?.[path.slice(1)], held);
      return;
    }
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    const route = routes.get(path);
    if (!route || request.method !== 'GET') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    response.writeHead(200, { 'content-type': route.type }).end(route.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new NervError('IO', `cannot listen on ${host}:${options.port ?? 0}: ${cause.message}`, { cause })));
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://${host}:${port}/`;
  return {
    url,
    port,
    pageUrl: (video) => `${url}?src=${encodeURIComponent(video)}`,
    release() {
      released = true;
      for (const resolve of waiting.splice(0)) resolve();
    },
    close: () =>
      new Promise<void>((resolve) => {
        released = true;
        for (const resolve of waiting.splice(0)) resolve();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a .nerv body in 16 KiB pieces (so a player sees it arrive progressively), pausing at holdAfter. */
async function sendVideo(response: ServerResponse, bytes: Uint8Array, holdAfter: number | undefined, held: () => Promise<void>): Promise<void> {
  const piece = 16 * 1024;
  const hold = holdAfter === undefined ? -1 : Math.min(holdAfter, bytes.length);
  let sent = 0;
  while (sent < bytes.length && !response.destroyed) {
    if (sent === hold) await held();
    const end = Math.min(bytes.length, sent + piece, sent < hold ? hold : Infinity);
    const flushed = response.write(bytes.subarray(sent, end));
    sent = end;
    if (!flushed) await new Promise((resolve) => response.once('drain', resolve));
  }
  response.end();
}

async function readNervFile(path: string): Promise<Uint8Array> {
  const bytes = await readNerv(path);
  let prefix;
  try {
    prefix = readNervPrefix(bytes); // a file that is not .nerv fails here, with the reason
  } catch (error) {
    throw naming(path, error);
  }
  if ('needBytes' in prefix) throw new NervError('FORMAT', `${path} is truncated: its header needs ${prefix.needBytes} bytes`);
  return bytes;
}

/** Serves the player for `file` and waits for Ctrl-C. */
export async function playCommand(file: string, options: { port: number }): Promise<void> {
  const name = basename(file)
    .replace(/[^\w.-]/g, '_')
    .replace(/(\.nerv)?$/, '.nerv');
  await serveUntilInterrupted(await startPlayServer({ port: options.port, videos: { [name]: file } }), name, file);
}

/**
 * Prints the page's URL and serves until Ctrl-C or SIGTERM, which the interrupt handler turns into
 * one line and the signal's exit status.
 */
export async function serveUntilInterrupted(server: PlayServer, name: string, file: string): Promise<never> {
  const url = server.pageUrl(name);
  process.stdout.write(`nervkit: playing ${file} at ${url}\n`);
  process.stdout.write('open it in a browser with WebGPU; press Ctrl-C to stop\n');
  setInterruptProgress(() => undefined);
  addInterruptNote(() => `stopped serving ${url}`);
  onInterrupt(() => void server.close());
  return new Promise<never>(() => {}); // the listening server keeps the process alive
}
