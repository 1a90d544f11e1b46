/**
 * The messages of a distributed encode: what a job asks (versioned, validated by the worker, which
 * fails foreign or future jobs with a clear reason) and what it returns (checked by the submitter).
 */
import { z } from 'zod';
import { describeIssue, segmentSettingsSchema } from '../segment/params.ts';
import { fromJson, toJson, type SegmentOutcome } from '../segment/summary.ts';

export const JOB_FORMAT = 'nervkit-encode';
/** Bumped whenever a job's or a result's fields change meaning: workers refuse other versions. 2: format v2, lambda. */
export const JOB_VERSION = 2;

const frames = z.number().int().min(0).max(1_000_000);

/** Where every worker reads the video: a path (on a shared file system) or a URL ffmpeg reads. */
const sourceSchema = z.strictObject({
  input: z.string().min(1).max(4096),
  maxFrames: frames.min(1).optional(),
  scale: z.strictObject({ width: z.number().int().min(1), height: z.number().int().min(1) }).optional(),
});
export type JobSource = z.infer<typeof sourceSchema>;

const common = {
  format: z.literal(JOB_FORMAT),
  version: z.literal(JOB_VERSION),
  /** The encode run this job belongs to (its jobs' ids start with it). */
  run: z.string().min(1).max(100),
  source: sourceSchema,
  videoFrames: frames.min(1),
  settings: segmentSettingsSchema,
};

const jobSchema = z.discriminatedUnion('kind', [
  /** Decide the video's lambda on its first group (the settings carry the size or PSNR target). */
  z.strictObject({ ...common, kind: z.literal('lambda') }),
  /** Encode frames [firstFrame, firstFrame + frameCount) as segment `index`, at the settings' fixed lambda. */
  z.strictObject({ ...common, kind: z.literal('segment'), index: z.number().int().min(0), firstFrame: frames, frameCount: frames.min(1) }),
]);
export type EncodeJob = z.infer<typeof jobSchema>;

const resultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ version: z.literal(JOB_VERSION), kind: z.literal('lambda'), lambda: z.number().positive() }),
  z.strictObject({
    version: z.literal(JOB_VERSION),
    kind: z.literal('segment'),
    /** The segment's .nerv file, base64 (job results are JSON). */
    bytes: z.base64(),
    worker: z.string(),
    /** The segment's SegmentOutcome, as toJson writes it (PSNRs may be infinite). */
    outcome: z.string(),
  }),
]);
export type EncodeJobResult = z.infer<typeof resultSchema>;

/** A job's data, or an Error whose message says why this worker will not run it. */
export function parseJob(data: unknown): EncodeJob {
  const d = (data ?? {}) as Record<string, unknown>;
  if (d.format !== JOB_FORMAT) throw new Error(`not a nervkit encode job (format ${JSON.stringify(d.format) ?? 'missing'}, expected "${JOB_FORMAT}")`);
  if (d.version !== JOB_VERSION)
    throw new Error(
      `job format version ${JSON.stringify(d.version)} is not the version ${JOB_VERSION} this worker reads: run the same nervkit version on the workers and the submitter`,
    );
  const parsed = jobSchema.safeParse(data);
  if (!parsed.success) throw new Error(`malformed nervkit job: ${describeIssue(parsed.error)}`);
  if (parsed.data.kind === 'segment' && parsed.data.settings.lambda === undefined) throw new Error('malformed nervkit job: a segment job needs a fixed lambda');
  return parsed.data;
}

export function parseJobResult(value: unknown): EncodeJobResult {
  const parsed = resultSchema.safeParse(value);
  if (!parsed.success) throw new Error(`malformed job result: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

export function encodeOutcome(outcome: SegmentOutcome): string {
  return toJson(outcome);
}

export function decodeOutcome(text: string): SegmentOutcome {
  return fromJson(text) as SegmentOutcome;
}
