/**
 * What every segment of one video shares, as one serialisable object: it travels in queue jobs and
 * resume manifests, so it is validated wherever it is read.
 */
import { z } from 'zod';
import { BadArgumentError } from '../errors.ts';
import { NERV_LIMITS } from '../format/nerv.ts';
import type { EncodeOptions } from '../encode/encode.ts';

const count = (max: number) => z.number().int().min(1).max(max);
const positive = z.number().positive().finite();

export const segmentSettingsSchema = z
  .strictObject({
    profile: z.string().min(1).max(32),
    groupSize: count(NERV_LIMITS.maxGroupSize),
    keyInterval: count(NERV_LIMITS.maxKeyInterval),
    steps: count(1e7),
    laterSteps: count(1e7),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    /** The rate setting: a fixed lambda, or a size or PSNR target (at most one of the three). */
    lambda: positive.optional(),
    targetBytes: count(2 ** 32).optional(),
    targetPsnr: positive.optional(),
    learningRates: z.strictObject({ latents: positive, networks: positive }).optional(),
    fps: z.strictObject({ num: count(NERV_LIMITS.maxFpsTerm), den: count(NERV_LIMITS.maxFpsTerm) }),
    colorSpace: z.enum(['bt601', 'bt709', 'srgb']),
    colorRange: z.enum(['limited', 'full']),
  })
  .refine((s) => [s.lambda, s.targetBytes, s.targetPsnr].filter((v) => v !== undefined).length <= 1, {
    message: 'give one of lambda, targetBytes and targetPsnr',
  });

export type SegmentSettings = z.infer<typeof segmentSettingsSchema>;

/** Checks untrusted settings (from a job or a manifest); BadArgumentError names the first bad field. */
export function parseSegmentSettings(value: unknown): SegmentSettings {
  const parsed = segmentSettingsSchema.safeParse(value);
  if (!parsed.success) throw new BadArgumentError(`invalid segment settings: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/** The first issue of a zod error as `path: message`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** The settings with `lambda` as the rate setting, targets dropped (what every job of a distributed encode gets). */
export function withFixedLambda(settings: SegmentSettings, lambda: number): SegmentSettings {
  const { targetBytes: _bytes, targetPsnr: _psnr, ...rest } = settings;
  return { ...rest, lambda };
}

/** The encoder options for any part of a video of `videoFrames` frames (EncodeOptions.firstGroup is the caller's). */
export function encodeOptionsOf(settings: SegmentSettings, videoFrames: number): EncodeOptions {
  return { ...settings, expectedFrames: videoFrames, videoFrames };
}
