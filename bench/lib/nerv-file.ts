// The command line of the benches that read one .nerv file (FILE.nerv [--tag T]) and what they all
// need from it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NervReader } from '../../src/format/nerv.ts';
import { modelOfHeader } from '../../src/decode/video.ts';
import { latentLevels, modelTensors } from '../../src/nn/model.ts';

export function openNervArgument(script: string) {
  const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { tag: { type: 'string' } } });
  if (positionals.length !== 1) {
    console.error(`usage: npx tsx bench/${script} FILE.nerv [--tag T]`);
    process.exit(2);
  }
  const reader = new NervReader(readFileSync(positionals[0]));
  const model = modelOfHeader(reader.header);
  return { path: positionals[0], tag: args.tag, reader, model, levels: latentLevels(model), specs: modelTensors(model) };
}
