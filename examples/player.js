// Wires examples/player.html: loads the browser bundle (served next to the page by `nervkit play`,
// or from ../dist when the repository root is served statically) and points <nerv-video> at ?src=.
let nervkit;
try {
  nervkit = await import('./nervkit.browser.js');
} catch {
  nervkit = await import('../dist/nervkit.browser.js');
}
window.nervkit = nervkit;

const video = document.getElementById('video');
const info = document.getElementById('info');
const events = document.getElementById('events');

const log = (text) => {
  const line = document.createElement('div');
  line.textContent = `${(performance.now() / 1000).toFixed(2)}s ${text}`;
  events.prepend(line);
  while (events.childElementCount > 50) events.lastChild.remove();
};

// Every event, in order, for scripts and tests (window.playerEvents); the notable ones also on the page.
window.playerEvents = [];
const NOTABLE = new Set(['loadedmetadata', 'loadeddata', 'play', 'pause', 'seeked', 'waiting', 'ended', 'error']);
for (const type of nervkit.NERV_VIDEO_EVENTS) {
  video.addEventListener(type, () => {
    window.playerEvents.push(type);
    if (NOTABLE.has(type)) log(type === 'error' ? `error: ${video.error?.message}` : type);
  });
}
video.addEventListener('loadedmetadata', () => {
  const i = video.player.info;
  info.textContent =
    `${i.width}x${i.height}, ${i.frameCount} frames at ${i.fps.num}/${i.fps.den} fps, ${i.groupCount} groups of ${i.groupSize}\n` +
    `${i.byteLength} bytes, ${i.bpp.toFixed(4)} bpp, ${i.parameterCount} parameters/group, ${i.macsPerPixel} MACs/pixel (${i.profile})`;
});

document.getElementById('loop').addEventListener('change', (e) => (video.loop = e.target.checked));
document.getElementById('stats').addEventListener('change', (e) => video.toggleAttribute('stats', e.target.checked));
document.getElementById('file').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  video.removeAttribute('src');
  try {
    await video.player.load(file.stream());
    if (video.autoplay) await video.play();
  } catch {
    // shown by the element
  }
});

// Page options: ?src=clip.nerv&autoplay=0&loop=0&stats=0 (all on by default).
const params = new URLSearchParams(location.search);
for (const name of ['autoplay', 'loop', 'stats']) {
  if (params.get(name) === '0') video.removeAttribute(name);
}
document.getElementById('loop').checked = video.loop;
document.getElementById('stats').checked = video.hasAttribute('stats');
const src = params.get('src');
if (src) video.src = src;
document.documentElement.dataset.ready = 'true';
