// A hand-written SVG rate-distortion plot: bpp on a log x axis, PSNR on y, one polyline with markers
// per codec, optional labelled reference points, a legend and axis labels.

export interface PlotSeries {
  label: string;
  points: { bpp: number; psnr: number }[];
}

export interface PlotReference {
  label: string;
  bpp: number;
  psnr: number;
}

export interface RdPlot {
  title: string;
  subtitle?: string;
  series: PlotSeries[];
  references?: PlotReference[];
  /** Label of the y axis (default 'PSNR RGB (dB)'). */
  yLabel?: string;
}

const WIDTH = 760;
const HEIGHT = 500;
const MARGIN = { left: 70, right: 190, top: 56, bottom: 58 };
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function num(x: number): string {
  return Number(x.toFixed(2)).toString();
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string, size = 4.5): string {
  const fill = `fill="${color}" stroke="#fff" stroke-width="1"`;
  switch (kind) {
    case 'circle':
      return `<circle cx="${num(x)}" cy="${num(y)}" r="${size}" ${fill}/>`;
    case 'square':
      return `<rect x="${num(x - size)}" y="${num(y - size)}" width="${2 * size}" height="${2 * size}" ${fill}/>`;
    case 'triangle':
      return `<polygon points="${num(x)},${num(y - size * 1.2)} ${num(x - size * 1.1)},${num(y + size * 0.8)} ${num(x + size * 1.1)},${num(y + size * 0.8)}" ${fill}/>`;
    case 'diamond':
      return `<polygon points="${num(x)},${num(y - size * 1.3)} ${num(x + size)},${num(y)} ${num(x)},${num(y + size * 1.3)} ${num(x - size)},${num(y)}" ${fill}/>`;
  }
}

/** Ticks of a log axis: 1, 2, 5 times powers of ten inside [low, high]. */
function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= low * 0.999 && v <= high * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/** Round linear ticks (step 1, 2 or 5 times a power of ten) giving about 6 intervals. */
function linearTicks(low: number, high: number): { ticks: number[]; low: number; high: number } {
  const raw = (high - low) / 6 || 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const lo = Math.floor(low / step) * step;
  const hi = Math.ceil(high / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toFixed(6)));
  return { ticks, low: lo, high: hi };
}

export function rdPlotSvg(plot: RdPlot): string {
  const all = [...plot.series.flatMap((s) => s.points), ...(plot.references ?? [])].filter((p) => p.bpp > 0 && Number.isFinite(p.psnr));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`);
  parts.push(`<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${escapeXml(plot.title)}</text>`);
  if (plot.subtitle) parts.push(`<text x="${MARGIN.left}" y="42" fill="#555">${escapeXml(plot.subtitle)}</text>`);
  if (all.length === 0) {
    parts.push(`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no points</text></svg>`);
    return parts.join('\n');
  }
  const minBpp = Math.min(...all.map((p) => p.bpp));
  const maxBpp = Math.max(...all.map((p) => p.bpp));
  const xLow = Math.log10(minBpp) - 0.08;
  const xHigh = Math.log10(maxBpp) + 0.08;
  const y = linearTicks(Math.min(...all.map((p) => p.psnr)) - 0.5, Math.max(...all.map((p) => p.psnr)) + 0.5);
  const px = (bpp: number) => MARGIN.left + ((Math.log10(bpp) - xLow) / (xHigh - xLow)) * plotW;
  const py = (psnr: number) => MARGIN.top + plotH - ((psnr - y.low) / (y.high - y.low)) * plotH;

  // Grid, ticks and axes.
  const bottom = MARGIN.top + plotH;
  for (const t of logTicks(10 ** xLow, 10 ** xHigh)) {
    const x = px(t);
    parts.push(`<line x1="${num(x)}" y1="${MARGIN.top}" x2="${num(x)}" y2="${bottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${num(x)}" y="${bottom + 16}" text-anchor="middle">${Number(t.toPrecision(3))}</text>`);
  }
  for (const t of y.ticks) {
    const yy = py(t);
    parts.push(`<line x1="${MARGIN.left}" y1="${num(yy)}" x2="${MARGIN.left + plotW}" y2="${num(yy)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${num(yy + 4)}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 16}" text-anchor="middle">bits per pixel (real file bytes x 8 / pixels, log scale)</text>`);
  parts.push(`<text transform="translate(20 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(plot.yLabel ?? 'PSNR RGB (dB)')}</text>`);

  // Series.
  plot.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length];
    const kind = MARKERS[i % MARKERS.length];
    const points = series.points.filter((p) => p.bpp > 0 && Number.isFinite(p.psnr)).sort((a, b) => a.bpp - b.bpp);
    if (points.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${num(px(p.bpp))},${num(py(p.psnr))}`).join(' ')}"/>`);
    }
    for (const p of points) parts.push(marker(kind, px(p.bpp), py(p.psnr), color));
    const ly = MARGIN.top + 10 + i * 22;
    const lx = MARGIN.left + plotW + 16;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(marker(kind, lx + 13, ly, color));
    parts.push(`<text x="${lx + 34}" y="${ly + 4}">${escapeXml(series.label)}</text>`);
  });

  // Reference points: a black star-like cross with its label.
  (plot.references ?? []).forEach((ref, i) => {
    const x = px(ref.bpp);
    const yy = py(ref.psnr);
    parts.push(
      `<path d="M${num(x - 6)},${num(yy - 6)}L${num(x + 6)},${num(yy + 6)}M${num(x - 6)},${num(yy + 6)}L${num(x + 6)},${num(yy - 6)}" stroke="#000" stroke-width="2.5"/>`,
    );
    const anchorEnd = x > MARGIN.left + plotW * 0.6;
    parts.push(
      `<text x="${num(anchorEnd ? x - 10 : x + 10)}" y="${num(yy - 8)}" text-anchor="${anchorEnd ? 'end' : 'start'}">${escapeXml(`${ref.label}: ${ref.bpp} bpp, ${ref.psnr} dB`)}</text>`,
    );
    const ly = MARGIN.top + 10 + (plot.series.length + i) * 22;
    const lx = MARGIN.left + plotW + 16;
    parts.push(`<path d="M${lx + 7},${ly - 6}L${lx + 19},${ly + 6}M${lx + 7},${ly + 6}L${lx + 19},${ly - 6}" stroke="#000" stroke-width="2.5"/>`);
    parts.push(`<text x="${lx + 34}" y="${ly + 4}">${escapeXml(ref.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
