// Quality of a decoded video against its source, with nervkit's own metrics, computed exactly as
// `nervkit eval` does for .nerv files: per frame RGB PSNR, YUV PSNR (6:1:1) and MS-SSIM, each capped
// at 100 dB / taken as is, then averaged over frames.
import { msSsim, psnr, psnrYuv, psnrYuvPlanes } from '../metrics/index.ts';
import { openVideo } from '../video/node-io.ts';
import { NervError } from '../errors.ts';

export interface Quality {
  frames: number;
  psnr: number;
  psnrYuv: number;
  msSsim: number;
}

/** Measures the first `frames` frames of `decodedPath` (Y4M) against `sourcePath` (Y4M, same size); both go through our Y4M parser. */
export async function measureVideo(decodedPath: string, sourcePath: string, frames: number): Promise<Quality> {
  const decoded = await openVideo(decodedPath);
  const source = await openVideo(sourcePath);
  const rows: { psnr: number; psnrYuv: number; msSsim: number }[] = [];
  try {
    if (decoded.info.width !== source.info.width || decoded.info.height !== source.info.height) {
      throw new NervError('BAD_INPUT', `${decodedPath} is ${decoded.info.width}x${decoded.info.height}, the source ${source.info.width}x${source.info.height}`);
    }
    const decodedFrames = decoded.frames();
    for await (const ref of source.frames()) {
      if (rows.length === frames) break;
      const next = await decodedFrames.next();
      if (next.done) break;
      const frame = next.value;
      // 4:2:0 Y4M on both sides: compare the planes themselves, as `nervkit eval` does.
      const yuv = frame.yuv?.chroma === '420' && ref.yuv?.chroma === '420' ? psnrYuvPlanes(frame.yuv, ref.yuv) : psnrYuv(frame, ref);
      rows.push({ psnr: psnr(frame, ref), psnrYuv: yuv.weighted, msSsim: msSsim(frame, ref) });
    }
    await decodedFrames.return?.(undefined);
  } finally {
    await decoded.close();
    await source.close();
  }
  if (rows.length !== frames) throw new NervError('BAD_INPUT', `only ${rows.length} of ${frames} frames could be compared (${decodedPath} vs ${sourcePath})`);
  const mean = (key: keyof (typeof rows)[number]) => rows.reduce((a, r) => a + Math.min(r[key], 100), 0) / rows.length;
  return { frames: rows.length, psnr: mean('psnr'), psnrYuv: mean('psnrYuv'), msSsim: mean('msSsim') };
}
