// Core frame types shared by readers, writers, the encoder and the metrics (no node:* imports).
import { BadArgumentError } from '../errors.ts';
import type { YuvFrame } from './color.ts';

/** One decoded picture: float RGB, HWC (row-major, 3 channels interleaved), values in [0, 1]. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Float32Array;
  /** The planar Y'CbCr samples it was converted from (Y4M and ffmpeg sources): the encoder codes these. */
  yuv?: YuvFrame;
}

/** Y'CbCr matrix of the stored video; `bt601` is also what ffmpeg assumes for untagged input. */
export type ColorSpace = 'bt601' | 'bt709';
/** Limited ("tv", Y in 16..235) is what nearly every video uses; full ("pc") comes from JPEG-like sources. */
export type ColorRange = 'limited' | 'full';

export interface VideoInfo {
  width: number;
  height: number;
  fps: { num: number; den: number };
  colorSpace: ColorSpace;
  /** Absent means limited. */
  colorRange?: ColorRange;
  /** Known up front for Y4M files, PNG sequences and containers that store it; counts `maxFrames` in. */
  frameCount?: number;
  /** Where the frames come from (a path, or a description for in-memory sources). */
  source: string;
}

export interface FrameSource {
  info: VideoInfo;
  /** Yields frames in order, holding about one frame in memory; each call starts again from the first frame. */
  frames(): AsyncIterableIterator<RgbFrame>;
  /** Releases files and subprocesses; safe to call more than once. */
  close(): Promise<void>;
}

/** A black frame of the given size. */
export function createRgbFrame(width: number, height: number): RgbFrame {
  assertFrameSize(width, height);
  return { width, height, data: new Float32Array(width * height * 3) };
}

export function assertFrameSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new BadArgumentError(`frame size must be positive integers, got ${width}x${height}`);
  }
}

/** Throws unless `frame` is well formed (data length matches its size). */
export function assertRgbFrame(frame: RgbFrame, what = 'frame'): void {
  assertFrameSize(frame.width, frame.height);
  if (frame.data.length !== frame.width * frame.height * 3) {
    throw new BadArgumentError(`${what}: ${frame.width}x${frame.height} RGB needs ${frame.width * frame.height * 3} floats, got ${frame.data.length}`);
  }
}

export function assertSameSize(a: RgbFrame, b: RgbFrame): void {
  assertRgbFrame(a, 'first frame');
  assertRgbFrame(b, 'second frame');
  if (a.width !== b.width || a.height !== b.height) {
    throw new BadArgumentError(`frames differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
}
