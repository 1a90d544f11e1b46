// NervPlayer: streams a .nerv file, decodes frames with the WGSL decoder on the page's GPU device a
// few frames ahead into a small ring of GPU buffers, and shows them on a canvas paced by
// requestAnimationFrame against the presentation clock (frame rate from the header). DOM edge.
import { NervError } from '../errors.ts';
import { requestGpuDevice } from '../gpu/device.ts';
import { open, type NervInfo, type NervVideo } from '../decode/video.ts';
import { fetchNerv, NervStream, type StreamProgress } from '../decode/stream.ts';
import { FrameCanvas } from './draw.ts';

export interface NervPlayerOptions {
  /** Decode and draw on this device (otherwise one is requested from navigator.gpu). */
  device?: GPUDevice;
  loop?: boolean;
  /** GPU frame buffers: one on screen, the rest decoded ahead (2 to 16). */
  ringSize?: number;
  /**
   * Decode on the CPU while the GPU decoder's pipelines compile (seconds on a software GPU), so the
   * first frame shows sooner. 'auto' (default): when a frame costs at most about 40 M
   * multiply-adds; true: always; false: never (frames wait for the GPU).
   */
  cpuWhileCompiling?: boolean | 'auto';
}

export type NervPlayerSource = string | URL | Uint8Array | Response | ReadableStream<Uint8Array>;

export interface PlayerStats {
  /** Median wall time of the last 30 decodes (weights load + forward pass + copy, until the GPU finished), ms. */
  decodeMs: number;
  /** Decodes measured so far. */
  decodedFrames: number;
  /** Frames shown during the last second of playback. */
  fps: number;
  /** Frames whose presentation time passed without being shown while playing. */
  droppedFrames: number;
  /** Frames shown since load. */
  shownFrames: number;
  bytesLoaded: number;
  bytesTotal: number | undefined;
  groupsReady: number;
  groupCount: number;
}

/** Like HTMLMediaElement's event names, plus 'stats' each time a frame is shown. */
export type NervPlayerEvent =
  | 'loadstart'
  | 'loadedmetadata'
  | 'loadeddata'
  | 'canplay'
  | 'progress'
  | 'play'
  | 'playing'
  | 'pause'
  | 'waiting'
  | 'seeking'
  | 'seeked'
  | 'timeupdate'
  | 'ended'
  | 'error'
  | 'durationchange';

interface Slot {
  buffer: GPUBuffer;
  /** Absolute playback position (frames; keeps growing across loops), -1 when free. */
  position: number;
  ready: boolean;
  /** Changes on every assignment, so a stale decode never releases a slot someone else took since. */
  ticket: number;
}

const RING_DEFAULT = 4;
/** 'auto' decodes on the CPU while compiling up to this many multiply-adds per frame (some 50 to 200 ms in JS). */
const CPU_FRAME_MACS = 40e6;
const DECODE_WINDOW = 30;
const TIMEUPDATE_MS = 250;

/**
 * Plays a .nerv file on a canvas. Events are plain `Event`s named like a <video>'s; the failure of
 * an 'error' event is in `player.error` (a NervError: FORMAT for a corrupt file, NO_GPU, IO...).
 */
export class NervPlayer extends EventTarget {
  readonly canvas: HTMLCanvasElement;
  loop: boolean;
  error: NervError | undefined;
  private readonly ringSize: number;
  private readonly cpuWhileCompiling: boolean | 'auto';
  /** Resolves when the GPU decoder's pipelines are compiled (started by compileGpu). */
  private gpuReady: Promise<void> | undefined;
  private gpuCompiled = false;
  private device: GPUDevice | undefined;
  private frameCanvas: FrameCanvas | undefined;
  private stream: NervStream | undefined;
  private video: NervVideo | undefined;
  private ring: Slot[] = [];
  /** Bumped by every load, seek and failure: decodes and waits started before are dropped. */
  private generation = 0;
  /** Bumped by every load: download callbacks of an earlier load are ignored. */
  private loadId = 0;
  private playing = false;
  private stalled = false;
  private hasEnded = false;
  /** Presentation clock: position (frames) = startPosition + elapsed seconds * fps. */
  private clockWall = 0;
  private clockPosition = 0;
  private shown: Slot | undefined;
  private shownPosition = -1;
  private nextDecode = 0;
  private pumpToken = 0;
  private tickets = 0;
  private slotFreed: (() => void) | undefined;
  private decodeChain: Promise<unknown> = Promise.resolve();
  private animation = 0;
  private lastTimeupdate = 0;
  private readonly decodeTimes: number[] = [];
  private readonly shownTimes: number[] = [];
  private counters = { decoded: 0, dropped: 0, shown: 0 };
  private progress: StreamProgress = { loaded: 0, total: undefined, groupsReady: 0 };

  constructor(canvas: HTMLCanvasElement, options: NervPlayerOptions = {}) {
    super();
    this.canvas = canvas;
    this.loop = options.loop ?? false;
    this.ringSize = Math.max(2, Math.min(16, Math.floor(options.ringSize ?? RING_DEFAULT)));
    this.device = options.device;
    this.cpuWhileCompiling = options.cpuWhileCompiling ?? 'auto';
  }

  get info(): NervInfo | undefined {
    return this.video?.info;
  }

  get fps(): number {
    const info = this.video?.info;
    return info ? info.fps.num / info.fps.den : NaN;
  }

  get frameCount(): number {
    return this.video?.info.frameCount ?? 0;
  }

  /** Seconds; NaN until the header has arrived. */
  get duration(): number {
    return this.video ? this.frameCount / this.fps : NaN;
  }

  get paused(): boolean {
    return !this.playing;
  }

  get ended(): boolean {
    return this.hasEnded;
  }

  /** 'empty' | 'loading' (no header yet) | 'ready' | 'error'. */
  get state(): 'empty' | 'loading' | 'ready' | 'error' {
    if (this.error) return 'error';
    if (this.video) return 'ready';
    return this.loadId > 0 ? 'loading' : 'empty';
  }

  /** Whether frames come from the GPU decoder yet (false while its pipelines compile and frames come from the CPU). */
  get gpuDecoding(): boolean {
    return this.gpuCompiled;
  }

  /** Index of the frame on screen, -1 before the first one is drawn. */
  get currentFrame(): number {
    return this.shownPosition < 0 ? -1 : this.frameOf(this.shownPosition);
  }

  get currentTime(): number {
    if (!this.video) return 0;
    const position = this.playing && !this.stalled ? this.positionAt(performance.now()) : this.clockPosition;
    const wrapped = this.loop ? position % this.frameCount : Math.min(position, this.frameCount);
    return wrapped / this.fps;
  }

  set currentTime(seconds: number) {
    void this.seek(seconds);
  }

  get stats(): PlayerStats {
    const now = performance.now();
    const recent = this.shownTimes.filter((t) => now - t <= 1000).length;
    // Median: robust to the first decode (pipeline compilation) and to group switches.
    const sorted = [...this.decodeTimes].sort((a, b) => a - b);
    const decodeMs = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
    return {
      decodeMs,
      decodedFrames: this.counters.decoded,
      fps: this.playing ? recent : 0,
      droppedFrames: this.counters.dropped,
      shownFrames: this.counters.shown,
      bytesLoaded: this.progress.loaded,
      bytesTotal: this.progress.total,
      groupsReady: this.progress.groupsReady,
      groupCount: this.video?.info.groupCount ?? 0,
    };
  }

  /**
   * Starts downloading `source` and resolves once the first frame is on the canvas (the rest of the
   * file may still be arriving). Failures also set `error` and fire 'error'.
   */
  async load(source: NervPlayerSource): Promise<void> {
    this.reset();
    const generation = ++this.generation;
    const loadId = ++this.loadId;
    this.emit('loadstart');
    try {
      const device = await this.gpuDevice();
      if (generation !== this.generation) return;
      // The draw pipeline compiles while the file downloads.
      const frameCanvas = this.frameCanvas ? Promise.resolve(this.frameCanvas) : FrameCanvas.create(this.canvas, device);
      frameCanvas.catch(() => {}); // awaited below; a failure before then is the download's to report
      const onProgress = (progress: StreamProgress) => {
        if (loadId !== this.loadId) return;
        this.progress = progress;
        this.emit('progress');
      };
      const stream =
        typeof source === 'string' || source instanceof URL ? await fetchNerv(source, { onProgress }) : await NervStream.open(source, { onProgress });
      if (generation !== this.generation) return stream.cancel();
      this.stream = stream;
      stream.done.catch((error) => {
        if (loadId === this.loadId) this.fail(error);
      });
      const video = await open(stream.bytes, { device, backend: 'webgpu' });
      if (generation !== this.generation) return;
      this.video = video;
      // The GPU decoder's pipelines compile in the background; until they are ready, frames come
      // from the CPU decoder where that is cheap enough (decodeInto). Then the compilation starts
      // once the first frame is on the canvas: started earlier, it kept the GPU process from
      // drawing that frame for half a second (SwiftShader in Chromium).
      const cpuFirst = this.decodesOnCpuWhileCompiling(video);
      if (!cpuFirst) this.compileGpu(video, loadId);
      this.frameCanvas ??= await frameCanvas;
      if (generation !== this.generation) return;
      const { width, height } = video.info;
      const bytes = Math.max(16, width * height * 3 * 4);
      this.ring = Array.from({ length: this.ringSize }, (_, i) => ({
        buffer: device.createBuffer({
          size: bytes,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
          label: `nerv-ring-${i}`,
        }),
        position: -1,
        ready: false,
        ticket: 0,
      }));
      this.frameCanvas.resize({ width, height });
      this.frameCanvas.setColour(video.info);
      this.emit('durationchange');
      this.emit('loadedmetadata');
      await this.showPosition(0, generation);
      // 'loadeddata' once the first frame is on the canvas, not merely submitted.
      await device.queue.onSubmittedWorkDone();
      if (loadId !== this.loadId || this.error) return;
      if (cpuFirst) this.compileGpu(video, loadId);
      this.emit('loadeddata');
      this.emit('canplay');
    } catch (error) {
      if (loadId === this.loadId) this.fail(error);
      throw this.error ?? error;
    }
  }

  async play(): Promise<void> {
    if (this.error) throw this.error;
    if (this.playing) return;
    if (!this.video) throw new NervError('BAD_ARGUMENT', 'nothing loaded: call load() first');
    if (this.hasEnded || (!this.loop && this.clockPosition >= this.frameCount)) {
      this.hasEnded = false;
      await this.seek(0);
    }
    this.playing = true;
    this.stalled = false;
    this.startClock(this.clockPosition);
    this.emit('play');
    this.emit('playing');
    this.startPump();
    this.requestTick();
  }

  pause(): void {
    if (!this.playing) return;
    this.clockPosition = this.stalled ? this.clockPosition : this.positionAt(performance.now());
    this.playing = false;
    this.stalled = false;
    cancelAnimationFrame(this.animation);
    this.wakePump();
    this.emit('timeupdate');
    this.emit('pause');
  }

  /** Shows the frame at `seconds` (clamped to the video); resolves once it is drawn. */
  async seek(seconds: number): Promise<void> {
    if (!this.video) throw new NervError('BAD_ARGUMENT', 'nothing loaded: call load() first');
    if (!Number.isFinite(seconds)) throw new NervError('BAD_ARGUMENT', `cannot seek to ${seconds}`);
    const position = Math.min(Math.max(0, seconds * this.fps), this.frameCount - 1);
    await this.seekPosition(position);
  }

  /** Shows frame `index`; resolves once it is drawn. */
  async seekToFrame(index: number): Promise<void> {
    if (!this.video) throw new NervError('BAD_ARGUMENT', 'nothing loaded: call load() first');
    if (!Number.isInteger(index) || index < 0 || index >= this.frameCount) {
      throw new NervError('BAD_ARGUMENT', `frame ${index} is outside 0..${this.frameCount - 1}`);
    }
    await this.seekPosition(index);
  }

  /**
   * The frame on screen as 8-bit RGBA, read from the canvas itself (drawn again and copied in the
   * same task, since a WebGPU canvas's content is only guaranteed until it is presented).
   */
  snapshot(): ImageData {
    if (!this.shown || !this.frameCanvas) throw new NervError('BAD_ARGUMENT', 'no frame has been drawn yet');
    this.frameCanvas.draw(this.shown.buffer);
    const copy = document.createElement('canvas');
    copy.width = this.canvas.width;
    copy.height = this.canvas.height;
    const context = copy.getContext('2d', { willReadFrequently: true })!;
    context.drawImage(this.canvas, 0, 0);
    return context.getImageData(0, 0, copy.width, copy.height);
  }

  /** Stops playback and the download, and frees the GPU buffers (the device stays the caller's). */
  destroy(): void {
    this.reset();
    this.generation++;
    this.loadId++;
    this.frameCanvas?.destroy();
    this.frameCanvas = undefined;
  }

  // ------------------------------------------------------------------------------ internals

  private async gpuDevice(): Promise<GPUDevice> {
    if (this.device) return this.device;
    if (!(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
      throw new NervError('NO_GPU', 'this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome, Edge or Firefox, or enable WebGPU');
    }
    const device = await requestGpuDevice();
    device.lost.then((info) => {
      if (this.device === device && info.reason !== 'destroyed') this.fail(new NervError('GPU', `the GPU device was lost: ${info.message}`));
    });
    this.device = device;
    return device;
  }

  private reset(): void {
    cancelAnimationFrame(this.animation);
    this.stream?.cancel();
    this.stream = undefined;
    this.video = undefined;
    this.gpuReady = undefined;
    this.gpuCompiled = false;
    for (const slot of this.ring) slot.buffer.destroy();
    this.ring = [];
    this.playing = false;
    this.stalled = false;
    this.hasEnded = false;
    this.error = undefined;
    this.shown = undefined;
    this.shownPosition = -1;
    this.clockPosition = 0;
    this.nextDecode = 0;
    this.decodeTimes.length = 0;
    this.shownTimes.length = 0;
    this.counters = { decoded: 0, dropped: 0, shown: 0 };
    this.progress = { loaded: 0, total: undefined, groupsReady: 0 };
    this.wakePump();
  }

  private fail(error: unknown): void {
    if (this.error) return;
    this.error = error instanceof NervError ? error : new NervError('GPU', error instanceof Error ? error.message : String(error), { cause: error });
    this.playing = false;
    this.generation++;
    cancelAnimationFrame(this.animation);
    this.stream?.cancel();
    this.wakePump();
    this.emit('error');
  }

  private emit(type: NervPlayerEvent): void {
    this.dispatchEvent(new Event(type));
  }

  private frameOf(position: number): number {
    return this.loop ? position % this.frameCount : Math.min(position, this.frameCount - 1);
  }

  private positionAt(wallMs: number): number {
    return this.clockPosition + ((wallMs - this.clockWall) / 1000) * this.fps;
  }

  private startClock(position: number): void {
    this.clockPosition = position;
    this.clockWall = performance.now();
  }

  private async seekPosition(position: number): Promise<void> {
    const generation = ++this.generation;
    this.emit('seeking');
    this.hasEnded = false;
    this.releaseAll();
    const frame = Math.floor(position + 1e-6);
    // Until the frame is drawn, the clock stands at the target, so decoding ahead starts from there.
    this.startClock(position);
    try {
      await this.showPosition(frame, generation);
    } catch (error) {
      if (generation === this.generation) this.fail(error);
      throw this.error ?? error;
    }
    if (generation !== this.generation) return;
    this.startClock(position);
    this.emit('seeked');
    this.emit('timeupdate');
    if (this.playing) {
      this.startPump();
      this.requestTick();
    }
  }

  /** Decodes `position` into a free slot and draws it at once (load and seek). */
  private async showPosition(position: number, generation: number): Promise<void> {
    const slot = this.take(this.freeSlot()!, position);
    this.nextDecode = position + 1;
    await this.decodeInto(slot, position, generation);
    if (generation !== this.generation) return;
    this.present(slot, false);
  }

  private take(slot: Slot, position: number): Slot {
    slot.position = position;
    slot.ready = false;
    slot.ticket = ++this.tickets;
    return slot;
  }

  private freeSlot(): Slot | undefined {
    return this.ring.find((s) => s.position < 0);
  }

  private release(slot: Slot): void {
    slot.position = -1;
    slot.ready = false;
    this.wakePump();
  }

  private releaseAll(): void {
    for (const slot of this.ring) if (slot !== this.shown) this.release(slot);
  }

  private wakePump(): void {
    const wake = this.slotFreed;
    this.slotFreed = undefined;
    wake?.();
  }

  /**
   * Waits for the group's chunk, then decodes one frame into `slot` (serialised: the decoder's
   * output buffer is shared) and waits until the GPU has finished, which is what decodeMs measures.
   */
  private async decodeInto(slot: Slot, position: number, generation: number): Promise<void> {
    const video = this.video!;
    const stream = this.stream!;
    const frame = this.frameOf(position);
    const group = Math.floor(frame / video.info.groupSize);
    if (!stream.groupReady(group)) {
      if (this.playing) this.setStalled(true, position);
      this.emit('waiting');
      await stream.waitForGroup(group);
      if (generation !== this.generation) return;
      this.setStalled(false);
    }
    const run = this.decodeChain.then(async () => {
      if (generation !== this.generation) return;
      const device = this.device!;
      const onCpu = !this.gpuCompiled && this.decodesOnCpuWhileCompiling(video);
      if (!onCpu) await this.compileGpu(video, this.loadId);
      if (generation !== this.generation) return;
      const started = performance.now();
      if (onCpu) {
        // Done once queued: the queue writes it before any draw of the slot. (Not waiting for the
        // GPU here: while the pipelines compile, the GPU process answers late.)
        const samples = video.synthesizedCpu(frame);
        device.queue.writeBuffer(slot.buffer, 0, samples.buffer, samples.byteOffset, samples.byteLength);
      } else {
        const output = video.frameGpu(frame);
        const encoder = device.createCommandEncoder({ label: 'nerv-ring-copy' });
        encoder.copyBufferToBuffer(output.buffer, 0, slot.buffer, 0, output.width * output.height * 3 * 4);
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
      }
      this.decodeTimes.push(performance.now() - started);
      if (this.decodeTimes.length > DECODE_WINDOW) this.decodeTimes.shift();
      this.counters.decoded++;
      if (generation === this.generation) slot.ready = true;
    });
    this.decodeChain = run.catch(() => {});
    await run;
  }

  /** Starts compiling the GPU decoder's pipelines (once per load); resolves when they are ready. */
  private compileGpu(video: NervVideo, loadId: number): Promise<void> {
    if (!this.gpuReady) {
      this.gpuReady = video.prepareGpu().then(() => {
        if (loadId === this.loadId) this.gpuCompiled = true;
      });
      this.gpuReady.catch((error) => {
        if (loadId === this.loadId) this.fail(error);
      });
    }
    return this.gpuReady;
  }

  private decodesOnCpuWhileCompiling(video: NervVideo): boolean {
    if (this.cpuWhileCompiling !== 'auto') return this.cpuWhileCompiling;
    const { width, height, decodeCost } = video.info;
    return width * height * (decodeCost.upsampling + decodeCost.synthesis) <= CPU_FRAME_MACS;
  }

  private setStalled(stalled: boolean, waitingFor = 0): void {
    if (stalled === this.stalled) return;
    if (stalled) {
      // Freeze the clock at the missing frame at the latest, so playback resumes there when the bytes arrive.
      this.clockPosition = Math.min(this.positionAt(performance.now()), waitingFor);
      this.stalled = true;
    } else {
      this.stalled = false;
      this.startClock(this.clockPosition);
      if (this.playing) this.requestTick();
    }
  }

  /** Decodes ahead while playing, skipping frames that could not be shown in time anyway. */
  /** Starts a decode-ahead loop; a newer one (after a seek, pause or play) makes older ones stop. */
  private startPump(): void {
    const token = ++this.pumpToken;
    this.wakePump();
    void this.pump(token, this.generation);
  }

  private async pump(token: number, generation: number): Promise<void> {
    const current = () => this.playing && !this.error && token === this.pumpToken && generation === this.generation;
    try {
      while (current()) {
        const free = this.freeSlot();
        if (!free) {
          await new Promise<void>((resolve) => (this.slotFreed = resolve));
          continue;
        }
        if (!this.loop && this.nextDecode >= this.frameCount) return;
        let position = this.nextDecode;
        if (!this.stalled) {
          const lastDecode = this.decodeTimes.length ? this.decodeTimes[this.decodeTimes.length - 1] : 0;
          position = Math.max(position, Math.floor(this.positionAt(performance.now() + lastDecode)));
        }
        // Without loop, the last frame is always decoded so the video ends on it.
        if (!this.loop) position = Math.min(position, this.frameCount - 1);
        const slot = this.take(free, position);
        const ticket = slot.ticket;
        this.nextDecode = position + 1;
        await this.decodeInto(slot, position, generation);
        if (generation !== this.generation && slot.ticket === ticket && slot !== this.shown) this.release(slot);
      }
    } catch (error) {
      if (generation === this.generation) this.fail(error);
    }
  }

  private requestTick(): void {
    cancelAnimationFrame(this.animation);
    this.animation = requestAnimationFrame((now) => this.tick(now));
  }

  private tick(now: number): void {
    if (!this.playing || this.error) return;
    // rAF's timestamp may be earlier than performance.now() at clock start; never run the clock backwards.
    const position = this.stalled ? this.clockPosition : this.positionAt(Math.max(now, this.clockWall));
    let best: Slot | undefined;
    for (const slot of this.ring) {
      if (slot.ready && slot !== this.shown && slot.position <= position && (!best || slot.position > best.position)) best = slot;
    }
    if (best && best.position > this.shownPosition) {
      for (const slot of this.ring) if (slot !== best && slot !== this.shown && slot.ready && slot.position < best.position) this.release(slot);
      this.present(best, true);
    }
    if (!this.loop && position >= this.frameCount && this.nextDecode >= this.frameCount && !this.ring.some((s) => s.position >= 0 && s !== this.shown)) {
      this.finish();
      return;
    }
    if (now - this.lastTimeupdate >= TIMEUPDATE_MS) {
      this.lastTimeupdate = now;
      this.emit('timeupdate');
    }
    this.requestTick();
  }

  private present(slot: Slot, playing: boolean): void {
    this.frameCanvas!.draw(slot.buffer);
    if (playing && this.shownPosition >= 0 && slot.position > this.shownPosition + 1) {
      this.counters.dropped += slot.position - this.shownPosition - 1;
    }
    const previous = this.shown;
    this.shown = slot;
    this.shownPosition = slot.position;
    if (previous && previous !== slot) this.release(previous);
    this.counters.shown++;
    if (!playing) return;
    const now = performance.now();
    this.shownTimes.push(now);
    while (this.shownTimes.length && now - this.shownTimes[0] > 1000) this.shownTimes.shift();
  }

  private finish(): void {
    this.playing = false;
    this.hasEnded = true;
    this.clockPosition = this.frameCount;
    this.emit('timeupdate');
    this.emit('pause');
    this.emit('ended');
  }
}
