// The README's library snippet: encode a synthetic clip in memory, open it, decode frames.
//   npx tsx examples/library.ts
import { encode, open, type RgbFrame } from '../src/index.ts';

const frames: RgbFrame[] = [];
for (let t = 0; t < 8; t++) {
  const width = 48,
    height = 32,
    data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set([((i % width) + t) / 56, Math.floor(i / width) / height, 0.5], i * 3);
  frames.push({ width, height, data });
}
const result = await encode(frames, { steps: 200, groupSize: 4, onProgress: (e) => console.log(e.group, e.step, e.psnr) });
console.log(result.bytes.length, 'bytes', result.bpp, 'bpp', result.psnr, 'dB');

const video = await open(result.bytes);
console.log(video.info);
const rgba = await video.frame(3);
console.log('frame 3:', rgba.length, 'bytes of RGBA');
let count = 0;
for await (const frame of video.frames()) count += frame.length > 0 ? 1 : 0;
console.log('decoded', count, 'frames');
