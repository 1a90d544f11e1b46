// nervkit's public API: the same in Node, Deno and browsers. Node-only helpers live at the edges:
// src/video/node-io.ts (video files, ffmpeg), src/format/atomic.ts (crash-safe writes), src/gpu/node.ts (Dawn).
import { GpuContext } from './gpu/context.ts';
import { requestGpuDevice } from './gpu/device.ts';
import { encodeFrames, type EncodeOptions, type EncodeResult } from './encode/encode.ts';
import type { RgbFrame } from './video/frame.ts';

export { NervError, NoGpuError, BadArgumentError, type NervErrorCode } from './errors.ts';
export { open, NervVideo, type NervInfo, type OpenOptions, type GpuFrame } from './decode/video.ts';
export { requestGpuDevice } from './gpu/device.ts';
export { PROFILES, describeModel, macsPerPixel, parameterCount, type ModelDescription } from './nn/model.ts';
export type { EncodeOptions, EncodeResult, EncodeProgress, GroupReport } from './encode/encode.ts';
export { joinSegments, SegmentMismatchError, type SegmentFile, type JoinOptions } from './segment/join.ts';
export type { RgbFrame, VideoInfo } from './video/frame.ts';

export interface EncodeCallOptions extends EncodeOptions {
  /** Train on this device (a page's own, say); otherwise one is requested. */
  device?: GPUDevice;
}

/**
 * Encodes frames (float RGB in [0,1], all the same size) into a .nerv file. `result.bytes` is the file;
 * the rest reports what it costs and the PSNR it decodes at.
 */
export async function encode(frames: Iterable<RgbFrame> | AsyncIterable<RgbFrame>, options: EncodeCallOptions = {}): Promise<EncodeResult> {
  const device = options.device ?? (await requestGpuDevice());
  return encodeFrames(new GpuContext(device), frames, options);
}
