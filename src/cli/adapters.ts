// `nervkit adapters`: what `--adapter NAME|INDEX` can name, and what the benchmark measured.
import { adapterKeys, adapterLabel } from '../gpu/adapters.ts';
import { cachedAdapterSpeeds, listAdapters } from '../gpu/node.ts';
import { NoGpuError } from '../errors.ts';
import { noAdapterHint } from '../gpu/device.ts';

export async function adaptersCommand(flags: { json?: boolean }): Promise<void> {
  const list = await listAdapters();
  const speeds = (await cachedAdapterSpeeds(list)) ?? {};
  const keys = adapterKeys(list);
  const rows = list.map((a, i) => ({ ...a, gflops: speeds[keys[i]] as number | undefined }));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) throw new NoGpuError(noAdapterHint());
  for (const row of rows) {
    const speed = row.gflops === undefined ? '' : `  ${row.gflops.toFixed(1)} GFLOP/s (benchmark matmul)`;
    process.stdout.write(`${row.index}: ${adapterLabel(row)}${speed}\n`);
  }
  if (rows.length > 1 && rows.every((r) => r.gflops === undefined)) {
    process.stdout.write('not measured yet: the first encode measures them and keeps the fastest\n');
  }
}
