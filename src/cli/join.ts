// `nervkit join`: segment files into one .nerv file, at container level (src/segment/join.ts does the work, in memory).
import { writeFileAtomic } from '../format/atomic.ts';
import { joinSegments } from '../segment/join.ts';
import { checkOutput, overwriteFrom, pick, readNerv, refuseBinaryToTerminal, STDIO, type InOutFlags } from './files.ts';
import { addInterruptNote } from './interrupt.ts';

export async function joinCommand(files: string[], flags: InOutFlags): Promise<void> {
  const output = pick('output', undefined, flags.output, '-o');
  refuseBinaryToTerminal(output, '.nerv data');
  await checkOutput(output, { inputs: files, overwrite: overwriteFrom(flags) });
  addInterruptNote(() => `nothing was written to ${output === STDIO ? 'stdout' : output}`);
  const inputs = await Promise.all(files.map(async (name) => ({ name: name === STDIO ? 'stdin' : name, bytes: await readNerv(name) })));
  const bytes = joinSegments(inputs);
  if (output === STDIO) process.stdout.write(bytes);
  else await writeFileAtomic(output, bytes, { overwrite: flags.yes === true });
  process.stderr.write(`wrote ${output === STDIO ? 'stdout' : output}: ${bytes.length} bytes from ${files.length} segment${files.length === 1 ? '' : 's'}\n`);
}
