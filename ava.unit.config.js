// `npm run test:unit`: the tests that need no GPU adapter, no browser, no Deno and no ffmpeg (those
// parts of video.test.ts and metrics.test.ts skip here). `npm test` runs everything, as CI does.
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default {
  ...base.ava,
  files: [
    'test/adapters.test.ts',
    'test/atomic.test.ts',
    'test/bd_rate.test.ts',
    'test/cli-files.test.ts',
    'test/entropy.test.ts',
    'test/format.test.ts',
    'test/interrupt.test.ts',
    'test/metrics.test.ts',
    'test/progress.test.ts',
    'test/quant.test.ts',
    'test/segment.test.ts',
    'test/stream.test.ts',
    'test/video.test.ts',
  ],
  // No ffmpeg and no Vulkan driver, so that a test needing either fails here instead of passing by luck.
  environmentVariables: {
    NERVKIT_TEST_LANE: 'unit',
    NERVKIT_FFMPEG: '/nonexistent/ffmpeg',
    VK_ICD_FILENAMES: '/nonexistent/icd.json',
    VK_DRIVER_FILES: '/nonexistent/icd.json',
  },
};
