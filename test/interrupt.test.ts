// The interrupt module on its own: message, clean-up order, terminal restore and temp-file removal,
// driven by emitted signals and a fake exit (the real signal path is tested through the bin in
// cli.test.ts, with and without a terminal).
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempPathFor } from '../src/format/atomic.ts';
import {
  addInterruptNote,
  installInterruptHandlers,
  interruptMessage,
  onInterrupt,
  resetInterruptState,
  setInterruptProgress,
  SIGNAL_EXIT_CODES,
} from '../src/cli/interrupt.ts';

test.serial.afterEach.always(() => resetInterruptState());

/** Emits `signal` to freshly installed handlers writing to a fake stderr; returns what they did. */
function deliver(signal: 'SIGINT' | 'SIGTERM', isTTY: boolean): { written: string[]; exits: string[] } {
  const written: string[] = [];
  const exits: string[] = [];
  const stderr = { isTTY, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const remove = installInterruptHandlers({ stderr, exit: (s) => exits.push(s) });
  try {
    process.emit(signal);
  } finally {
    remove();
  }
  return { written, exits };
}

test.serial('the message says how far the command got and what was lost, in one line', (t) => {
  t.is(interruptMessage('SIGINT'), 'nervkit: interrupted');
  setInterruptProgress(() => 'after 3 of 8 groups');
  const remove = addInterruptNote(() => 'nothing was written to out.nerv');
  addInterruptNote(() => undefined);
  addInterruptNote(() => {
    throw new Error('a broken describer is skipped');
  });
  t.is(interruptMessage('SIGINT'), 'nervkit: interrupted after 3 of 8 groups; nothing was written to out.nerv');
  addInterruptNote(() => 'resume with --resume');
  t.is(interruptMessage('SIGTERM'), 'nervkit: terminated after 3 of 8 groups; nothing was written to out.nerv; resume with --resume');
  remove();
  t.is(interruptMessage('SIGTERM'), 'nervkit: terminated after 3 of 8 groups; resume with --resume');
  t.deepEqual(SIGNAL_EXIT_CODES, { SIGINT: 130, SIGTERM: 143 });
});

test.serial('a signal restores the terminal, runs clean-ups newest first, removes live temp files, prints once and exits', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nervkit-interrupt-'));
  try {
    const { temp } = tempPathFor(join(dir, 'out.nerv'));
    writeFileSync(temp, 'half');
    const order: string[] = [];
    onInterrupt(() => order.push('first'));
    const unregister = onInterrupt(() => order.push('never'));
    onInterrupt(() => {
      order.push('second');
      throw new Error('the others still run');
    });
    unregister();
    setInterruptProgress(() => 'after 1 of 2 groups');
    const { written, exits } = deliver('SIGTERM', true);
    t.deepEqual(order, ['second', 'first']);
    t.false(existsSync(temp), 'the temporary file is gone');
    t.deepEqual(written, ['\r\x1b[2K\x1b[?25h\x1b[?7h', 'nervkit: terminated after 1 of 2 groups\n']);
    t.deepEqual(exits, ['SIGTERM']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('without a terminal nothing but the message is written', (t) => {
  const { written, exits } = deliver('SIGINT', false);
  t.deepEqual(written, ['nervkit: interrupted\n']);
  t.deepEqual(exits, ['SIGINT']);
});
