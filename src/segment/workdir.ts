/**
 * Node edge: the work directory of a local encode, `OUT.parts/` next to the output. It holds one
 * .nerv file per finished segment and manifest.json: what the encode is (a hash of its settings and
 * of the input's identity, and the settings themselves so that a refusal can name what changed)
 * and each finished segment's outcome, rate control's state at its end included, so that a resumed
 * encode starts the next segment exactly where an uninterrupted one would have. Every file is
 * written atomically: after a kill a part is complete or absent, and listed only once complete.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { BadArgumentError, NervError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { isUrl } from '../video/node-io.ts';
import type { SegmentFile } from './join.ts';
import { describeIssue } from './params.ts';
import { fromJson, toJson, type SegmentOutcome } from './summary.ts';

const MANIFEST = 'manifest.json';
const FORMAT = 'nervkit-parts';
/** 2: format v2 files, outcomes with rate state. */
const VERSION = 2;

/** A PSNR: Infinity for a perfect frame (zod's number() takes finite values only). */
const finiteOrNot = z.custom<number>((v) => typeof v === 'number');
const outcomeSchema = z.object({
  frameCount: z.number().int().min(1),
  // The reports feed only the summary (the bytes never depend on them): the fields it reads are checked.
  groups: z
    .array(
      z.looseObject({
        group: z.number().int(),
        frames: z.number().int(),
        key: z.boolean(),
        steps: z.number(),
        seconds: z.number(),
        lambda: z.number(),
        psnr: finiteOrNot,
        psnrRgb: finiteOrNot,
        framePsnr: z.array(finiteOrNot),
        framePsnrRgb: z.array(finiteOrNot),
        latentBytes: z.number(),
        networkBytes: z.number(),
      }),
    )
    .min(1),
  psnrYuv: z.object({ y: finiteOrNot, u: finiteOrNot, v: finiteOrNot, weighted: finiteOrNot }).optional(),
  warnings: z.array(z.string()),
  rateState: z.strictObject({ spentBytes: z.number().min(0), predictedWeight: z.number().positive(), lambda: z.number().positive() }),
});

const manifestSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  settingsHash: z.string(),
  settings: z.record(z.string(), z.unknown()),
  segments: z.number().int().min(1),
  parts: z.array(z.strictObject({ index: z.number().int().min(0), file: z.string().regex(/^segment-\d+\.nerv$/), outcome: outcomeSchema })),
});
/** The outcomes' group reports are checked only for the fields the manifest's reader relies on. */
type Manifest = Omit<z.infer<typeof manifestSchema>, 'parts'> & { parts: { index: number; file: string; outcome: SegmentOutcome }[] };

/** What identifies an input without reading it all: a file's absolute path, size and modification time; a URL as given. */
export async function inputIdentity(input: string): Promise<Record<string, unknown>> {
  if (isUrl(input)) return { url: input };
  const path = resolve(input);
  try {
    const info = await stat(path);
    return { path, bytes: info.size, modified: info.mtimeMs };
  } catch {
    return { path }; // a PNG pattern names no single file; its frames are still checked by the encode
  }
}

function hashOf(settings: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}

function firstDifference(then: Record<string, unknown>, now: Record<string, unknown>): string {
  for (const key of new Set([...Object.keys(then), ...Object.keys(now)])) {
    const [a, b] = [JSON.stringify(then[key]), JSON.stringify(now[key])];
    if (a !== b) return `${key}: ${a ?? 'unset'} then, ${b ?? 'unset'} now`;
  }
  return 'the settings hash';
}

export class PartsDirectory {
  /** Created by this process and still without a finished part (removed if the encode is interrupted). */
  private fresh = false;

  private constructor(
    readonly path: string,
    private manifest: Manifest,
    private exists: boolean,
  ) {}

  /** The directory a local encode of `output` uses. */
  static pathFor(output: string): string {
    return `${output}.parts`;
  }

  /**
   * The work directory for `output`: an unfinished encode's to continue with `resume`, or a new one
   * (created when the first segment is stored). Refuses to continue an encode with other settings
   * or input, and to start over an unfinished one without being told (BAD_ARGUMENT).
   */
  static async open(output: string, settings: Record<string, unknown>, segments: number, resume: boolean): Promise<PartsDirectory> {
    const path = PartsDirectory.pathFor(output);
    const settingsHash = hashOf(settings);
    const existing = await readManifest(path);
    if (existing) {
      if (!resume) {
        throw new BadArgumentError(
          `${path} holds an unfinished encode (${existing.parts.length} of ${existing.segments} segments done): add --resume to continue it, or delete ${path} to start over`,
        );
      }
      if (existing.settingsHash !== settingsHash) {
        throw new BadArgumentError(
          `cannot resume: ${path} was encoded with other settings or input (${firstDifference(existing.settings, settings)}); rerun with the original settings, or delete ${path} to start over`,
        );
      }
      // Segments are encoded in order, each from the state the one before left: parts are always a prefix.
      if (existing.segments !== segments || existing.parts.some((p, i) => p.index !== i)) {
        throw new NervError('BAD_INPUT', `${join(path, MANIFEST)} does not list segments 0..n-1 of ${segments}: delete ${path} to start over`);
      }
      return new PartsDirectory(path, existing, true);
    }
    return new PartsDirectory(path, { format: FORMAT, version: VERSION, settingsHash, settings, segments, parts: [] }, false);
  }

  /** The outcome of finished segment `index`, or undefined. */
  finished(index: number): SegmentOutcome | undefined {
    return this.manifest.parts.find((p) => p.index === index)?.outcome;
  }

  get finishedCount(): number {
    return this.manifest.parts.length;
  }

  /** Stores a finished segment, then lists it in the manifest. */
  async addPart(index: number, bytes: Uint8Array, outcome: SegmentOutcome): Promise<void> {
    if (!this.exists) {
      this.fresh = true;
      await mkdir(this.path, { recursive: true }).catch((cause: Error) => {
        throw new NervError('IO', `cannot create ${this.path}: ${cause.message}`, { cause });
      });
      this.exists = true;
    }
    const file = `segment-${String(index).padStart(5, '0')}.nerv`;
    await writeFileAtomic(join(this.path, file), bytes);
    this.manifest.parts = [...this.manifest.parts.filter((p) => p.index !== index), { index, file, outcome }];
    await writeFileAtomic(join(this.path, MANIFEST), new TextEncoder().encode(`${toJson(this.manifest)}\n`));
    this.fresh = false;
  }

  /** The finished segments' files in video order, as join takes them. */
  readParts(): Promise<SegmentFile[]> {
    return Promise.all(
      this.manifest.parts.map(async (p) => {
        const name = join(this.path, p.file);
        try {
          return { name, bytes: new Uint8Array(await readFile(name)) };
        } catch (cause) {
          throw new NervError('IO', `cannot read ${name}: ${(cause as Error).message}`, { cause });
        }
      }),
    );
  }

  async remove(): Promise<void> {
    if (this.exists) await rm(this.path, { recursive: true, force: true });
  }

  /** For an interrupt: a directory this process made that holds no finished segment goes (synchronously). */
  removeIfEmptySync(): void {
    if (this.fresh) rmSync(this.path, { recursive: true, force: true });
  }
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NervError('IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let parsed;
  try {
    parsed = manifestSchema.safeParse(fromJson(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) {
    const why = parsed ? describeIssue(parsed.error) : 'not JSON';
    throw new NervError('BAD_INPUT', `${path} is not a nervkit work directory manifest (${why}): delete ${dir} to start over`);
  }
  return parsed.data as unknown as Manifest;
}
