// Core video API (runs in Node, Deno and browsers). File and ffmpeg I/O for Node is in ./node-io.ts.
export type { ColorRange, ColorSpace, FrameSource, RgbFrame, VideoInfo } from './frame.ts';
export { assertRgbFrame, assertSameSize, createRgbFrame } from './frame.ts';
export type { ChromaFormat, ColorOptions, YuvFrame } from './color.ts';
export { chromaSize, createYuvFrame, rgba8ToRgb, rgbToLuma8, rgbToRgb8, rgbToRgba8, rgbToYuv, toByte, yuvFrameBytes, yuvToRgb } from './color.ts';
export type { Y4mDecoderOptions, Y4mHeader, Y4mWriteOptions } from './y4m.ts';
export {
  decodeY4m,
  decodeY4mChunks,
  encodeY4m,
  parseY4mHeader,
  SUPPORTED_Y4M_COLOR_FORMATS,
  Y4M_LIMITS,
  Y4mDecoder,
  Y4mEncoder,
  Y4mError,
  y4mVideoInfo,
} from './y4m.ts';
