// The browser player: a NervPlayer class (canvas + streaming + WebGPU decode) and the <nerv-video> element.
export { NervPlayer, type NervPlayerOptions, type NervPlayerSource, type NervPlayerEvent, type PlayerStats } from './player.ts';
export { defineNervVideoElement, NERV_VIDEO_EVENTS, type NervVideoElement } from './element.ts';
export { FrameCanvas, type FrameSize } from './draw.ts';
export { NervStream, fetchNerv, type StreamProgress, type NervStreamOptions } from '../decode/stream.ts';
