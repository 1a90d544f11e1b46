// <nerv-video src="clip.nerv" controls autoplay loop stats>: a custom element around NervPlayer with
// a play/pause button, a scrub bar, a time display, an optional stats overlay, and <video>-like
// properties and events (re-dispatched from the player). DOM edge.
import { NervPlayer, type NervPlayerEvent } from './player.ts';

/** The events <nerv-video> re-dispatches from its player, as a <video> would fire them. */
export const NERV_VIDEO_EVENTS: readonly NervPlayerEvent[] = [
  'loadstart',
  'loadedmetadata',
  'loadeddata',
  'canplay',
  'progress',
  'play',
  'playing',
  'pause',
  'waiting',
  'seeking',
  'seeked',
  'timeupdate',
  'ended',
  'error',
  'durationchange',
];

const STYLE = `
:host { display: inline-block; position: relative; background: #000; color: #eee; font: 12px/1.4 system-ui, sans-serif; }
canvas { display: block; width: 100%; height: auto; image-rendering: auto; }
.controls { display: none; align-items: center; gap: 6px; padding: 4px 6px; background: #181818; }
:host([controls]) .controls { display: flex; }
.controls button { width: 28px; height: 22px; padding: 0; border: 0; border-radius: 3px; background: #333; color: #eee; cursor: pointer; }
.controls input { flex: 1; min-width: 40px; }
.time { font-variant-numeric: tabular-nums; white-space: nowrap; }
.stats { display: none; position: absolute; left: 6px; top: 6px; padding: 4px 6px; background: rgba(0,0,0,.65);
  font: 11px/1.35 ui-monospace, monospace; white-space: pre; pointer-events: none; border-radius: 3px; }
:host([stats]) .stats { display: block; }
.message { display: none; position: absolute; inset: 0; align-items: center; justify-content: center; padding: 12px;
  text-align: center; background: rgba(20,0,0,.85); color: #fbb; }
:host([data-state="error"]) .message { display: flex; }
`;

export interface NervVideoElement extends HTMLElement {
  readonly player: NervPlayer;
  src: string;
  loop: boolean;
  autoplay: boolean;
  controls: boolean;
  currentTime: number;
  readonly duration: number;
  readonly paused: boolean;
  readonly ended: boolean;
  readonly error: Error | undefined;
  play(): Promise<void>;
  pause(): void;
}

/** Registers <nerv-video> (once; a no-op where custom elements do not exist, e.g. in Node or Deno). */
export function defineNervVideoElement(name = 'nerv-video'): void {
  if (typeof customElements === 'undefined' || customElements.get(name)) return;

  class NervVideoElementImpl extends HTMLElement implements NervVideoElement {
    static observedAttributes = ['src', 'loop'];
    readonly player: NervPlayer;
    private readonly root: ShadowRoot;
    private readonly canvas: HTMLCanvasElement;
    private readonly button: HTMLButtonElement;
    private readonly scrub: HTMLInputElement;
    private readonly time: HTMLSpanElement;
    private readonly statsBox: HTMLDivElement;
    private readonly message: HTMLDivElement;
    private scrubbing = false;
    private statsTimer: ReturnType<typeof setInterval> | undefined;
    private loadedSrc: string | undefined;

    constructor() {
      super();
      this.root = this.attachShadow({ mode: 'open' });
      this.root.innerHTML = `<style>${STYLE}</style>
        <canvas part="canvas" width="300" height="150"></canvas>
        <div class="stats" part="stats"></div>
        <div class="message" part="message" role="alert"></div>
        <div class="controls" part="controls">
          <button class="play" aria-label="play">&#9654;</button>
          <input class="scrub" type="range" min="0" max="0" step="1" value="0" aria-label="seek">
          <span class="time">0:00.0 / 0:00.0</span>
        </div>`;
      this.canvas = this.root.querySelector('canvas')!;
      this.button = this.root.querySelector('button')!;
      this.scrub = this.root.querySelector('input')!;
      this.time = this.root.querySelector('.time')!;
      this.statsBox = this.root.querySelector('.stats')!;
      this.message = this.root.querySelector('.message')!;
      this.player = new NervPlayer(this.canvas, { loop: this.hasAttribute('loop') });
      for (const type of NERV_VIDEO_EVENTS) this.player.addEventListener(type, () => this.onPlayerEvent(type));
      this.button.addEventListener('click', () => (this.paused ? this.play().catch(() => {}) : this.pause()));
      this.scrub.addEventListener('input', () => {
        this.scrubbing = true;
        this.player.seekToFrame(Number(this.scrub.value)).catch(() => {});
      });
      this.scrub.addEventListener('change', () => (this.scrubbing = false));
    }

    connectedCallback(): void {
      // Not in the constructor: document.createElement refuses elements whose constructor adds attributes.
      this.dataset.state ??= 'empty';
      this.statsTimer ??= setInterval(() => this.renderStats(), 250);
      const src = this.getAttribute('src');
      if (src && src !== this.loadedSrc) this.startLoad(src);
    }

    disconnectedCallback(): void {
      clearInterval(this.statsTimer);
      this.statsTimer = undefined;
      this.player.pause();
    }

    attributeChangedCallback(name: string, _old: string | null, value: string | null): void {
      if (name === 'loop') this.player.loop = value !== null;
      if (name === 'src' && value && this.isConnected && value !== this.loadedSrc) this.startLoad(value);
    }

    get src(): string {
      return this.getAttribute('src') ?? '';
    }
    set src(value: string) {
      this.setAttribute('src', value);
    }
    get loop(): boolean {
      return this.hasAttribute('loop');
    }
    set loop(value: boolean) {
      this.toggleAttribute('loop', value);
    }
    get autoplay(): boolean {
      return this.hasAttribute('autoplay');
    }
    set autoplay(value: boolean) {
      this.toggleAttribute('autoplay', value);
    }
    get controls(): boolean {
      return this.hasAttribute('controls');
    }
    set controls(value: boolean) {
      this.toggleAttribute('controls', value);
    }
    get currentTime(): number {
      return this.player.currentTime;
    }
    set currentTime(seconds: number) {
      this.player.seek(seconds).catch(() => {});
    }
    get duration(): number {
      return this.player.duration;
    }
    get paused(): boolean {
      return this.player.paused;
    }
    get ended(): boolean {
      return this.player.ended;
    }
    get error(): Error | undefined {
      return this.player.error;
    }
    play(): Promise<void> {
      return this.player.play();
    }
    pause(): void {
      this.player.pause();
    }

    private startLoad(src: string): void {
      this.loadedSrc = src;
      this.dataset.state = 'loading';
      this.player
        .load(new URL(src, document.baseURI))
        .then(() => (this.autoplay ? this.player.play() : undefined))
        .catch(() => {}); // reported through the 'error' event and the message
    }

    private onPlayerEvent(type: NervPlayerEvent): void {
      const player = this.player;
      if (type === 'loadstart') {
        this.dataset.state = 'loading';
        this.message.textContent = '';
      }
      if (type === 'loadedmetadata') {
        this.scrub.max = String(Math.max(0, player.frameCount - 1));
        this.dataset.state = 'ready';
      }
      if (type === 'error') {
        this.dataset.state = 'error';
        this.message.textContent = player.error?.message ?? 'playback failed';
      }
      if (type === 'play' || type === 'pause' || type === 'ended') {
        this.button.innerHTML = player.paused ? '&#9654;' : '&#10074;&#10074;';
        this.button.setAttribute('aria-label', player.paused ? 'play' : 'pause');
      }
      if (type === 'timeupdate' || type === 'seeked' || type === 'loadeddata' || type === 'durationchange') this.renderTime();
      this.dispatchEvent(new Event(type));
    }

    private renderTime(): void {
      const player = this.player;
      if (!this.scrubbing && player.currentFrame >= 0) this.scrub.value = String(player.currentFrame);
      this.time.textContent = `${clock(player.currentTime)} / ${clock(player.duration)}`;
    }

    private renderStats(): void {
      if (!this.hasAttribute('stats') || !this.player.info) return;
      const s = this.player.stats;
      const info = this.player.info;
      const kb = (n: number | undefined) => (n === undefined ? '?' : (n / 1024).toFixed(1));
      this.statsBox.textContent = [
        `${info.width}x${info.height} @ ${(info.fps.num / info.fps.den).toFixed(2)} fps, ${info.macsPerPixel} MACs/px`,
        `decode ${Number.isNaN(s.decodeMs) ? '-' : s.decodeMs.toFixed(1)} ms/frame`,
        `shown ${s.fps} fps, dropped ${s.droppedFrames}`,
        `loaded ${kb(s.bytesLoaded)} / ${kb(s.bytesTotal)} KiB, groups ${s.groupsReady}/${s.groupCount}`,
      ].join('\n');
      if (!this.player.paused) this.renderTime();
    }
  }

  customElements.define(name, NervVideoElementImpl);
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-:--';
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${(seconds - minutes * 60).toFixed(1).padStart(4, '0')}`;
}
