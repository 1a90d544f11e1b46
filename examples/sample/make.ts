// Regenerates the built-in sample (examples/sample/vtest-128x80.y4m.br) from OpenCV's vtest.avi:
// the first 16 frames scaled to 128x80, 4:2:0 Y4M, compressed with brotli (node:zlib reads it back,
// so using the sample needs no ffmpeg; making it does).
//
//   npx tsx examples/sample/make.ts PATH/TO/vtest.avi
//
// vtest.avi ships with OpenCV's sample data (samples/data/vtest.avi in the opencv repository,
// /usr/share/doc/opencv-doc/examples/data/vtest.avi in Debian's opencv-doc package).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { SAMPLE } from '../../src/cli/sample.ts';

const input = process.argv[2];
if (!input) {
  process.stderr.write('usage: npx tsx examples/sample/make.ts PATH/TO/vtest.avi\n');
  process.exit(2);
}
const y4m = execFileSync('ffmpeg', [
  '-v', 'error', '-i', input, '-frames:v', String(SAMPLE.frames), '-vf', `scale=${SAMPLE.width}:${SAMPLE.height}`,
  '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', '-',
], { maxBuffer: 1 << 26 });
const packed = brotliCompressSync(y4m, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } });
const out = fileURLToPath(SAMPLE.url);
writeFileSync(out, packed);
process.stdout.write(`wrote ${out}: ${y4m.length} bytes of Y4M in ${packed.length}\n`);
