// Which test lane runs: `npm test` runs everything; `npm run test:unit` (ava.unit.config.js) sets
// NERVKIT_TEST_LANE=unit, and tests that need ffmpeg skip there.
import test from 'ava';
import { findFfmpeg } from '../../src/video/node-io.ts';

export const UNIT_LANE = process.env.NERVKIT_TEST_LANE === 'unit';

const ffmpeg = UNIT_LANE ? null : findFfmpeg();

/** The ffmpeg tests use, or null (unit lane, or none installed). */
export const FFMPEG = ffmpeg;

/** `test`, or `test.skip` when there is no ffmpeg to use. */
export const ffmpegTest = ffmpeg ? test : test.skip;

/** Appended to an ffmpeg test's title: why it was skipped. */
export const NEEDS_FFMPEG = ffmpeg
  ? ''
  : UNIT_LANE
    ? ' [SKIPPED in the unit lane: needs ffmpeg]'
    : ' [SKIPPED: ffmpeg is not on the PATH; apt-get install ffmpeg]';
