import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NervError } from '../src/errors.ts';
import { writeFileAtomic, writeFileAtomicSync } from '../src/format/atomic.ts';

const made: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'nervkit-atomic-'));
  made.push(dir);
  return dir;
};
test.after.always(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

test('writes a new file and replaces an existing one, leaving no temporary file', async (t) => {
  const dir = freshDir();
  const path = join(dir, 'clip.nerv');
  await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
  t.deepEqual([...readFileSync(path)], [1, 2, 3]);
  writeFileSync(join(dir, 'other'), 'x');
  const big = new Uint8Array(3_000_001).map((_, i) => i * 7);
  await writeFileAtomic(path, big);
  t.true(Buffer.from(big).equals(readFileSync(path)));
  writeFileAtomicSync(path, Uint8Array.of(9));
  t.deepEqual([...readFileSync(path)], [9]);
  await writeFileAtomic(path, new Uint8Array(0));
  t.is(statSync(path).size, 0);
  t.deepEqual(readdirSync(dir).sort(), ['clip.nerv', 'other']);
});

test('a failed rename removes the temporary file and leaves nothing under the final name', async (t) => {
  const dir = freshDir();
  const target = join(dir, 'out.nerv');
  mkdirSync(target); // rename(file, non-empty directory) fails after the data was written
  writeFileSync(join(target, 'keep'), 'x');
  const error = await t.throwsAsync(writeFileAtomic(target, new Uint8Array(1000)), { instanceOf: NervError });
  t.is(error?.code, 'IO');
  t.regex(error?.message ?? '', /out\.nerv/);
  t.deepEqual(readdirSync(dir), ['out.nerv']);
  t.true(statSync(target).isDirectory());
  t.throws(() => writeFileAtomicSync(target, new Uint8Array(10)), { instanceOf: NervError });
  t.deepEqual(readdirSync(dir), ['out.nerv']);
});

test('a missing directory is an IO error and creates nothing', async (t) => {
  const dir = freshDir();
  const path = join(dir, 'missing', 'clip.nerv');
  const error = await t.throwsAsync(writeFileAtomic(path, Uint8Array.of(1)), { instanceOf: NervError });
  t.is(error?.code, 'IO');
  t.throws(() => writeFileAtomicSync(path, Uint8Array.of(1)), { instanceOf: NervError });
  t.deepEqual(readdirSync(dir), []);
});
