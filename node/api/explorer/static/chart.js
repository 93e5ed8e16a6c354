// The mempool's fee-rate histogram as an inline SVG bar chart (no library, no canvas: the
// bars are DOM nodes a test or a screen reader can read).
import { count, h } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_BARS = 12;
const ROW = 22; // px: the chart keeps its text size at every width; lengths across are in %
const LABEL = 34; // % of the width for the fee-rate labels
const BARS = 46; // % of the width for the longest bar (the rest for its value)

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

// Esplora's fee_histogram is [fee rate, vsize] pairs from high to low fee rates; each bucket
// holds the transactions paying at least its rate (and less than the previous bucket's).
// A full mempool has thousands of buckets: merge neighbours to keep the chart readable.
export function mergeBuckets(histogram, maxBars = MAX_BARS) {
  const per = Math.ceil(histogram.length / maxBars);
  if (per <= 1) return histogram.map(([rate, vsize]) => [rate, vsize]);
  const bars = [];
  for (let i = 0; i < histogram.length; i += per) {
    const group = histogram.slice(i, i + per);
    bars.push([group[group.length - 1][0], group.reduce((sum, [, vsize]) => sum + vsize, 0)]);
  }
  return bars;
}

export function feeHistogram(histogram) {
  if (histogram.length === 0) {
    return h('p', { class: 'muted', 'data-field': 'histogram-empty' }, 'The mempool is empty.');
  }
  const bars = mergeBuckets(histogram);
  const largest = Math.max(...bars.map(([, vsize]) => vsize));
  const chart = svg('svg', {
    class: 'histogram', width: '100%', height: bars.length * ROW, role: 'img',
    'aria-label': 'Mempool virtual size by fee rate',
  });
  bars.forEach(([rate, vsize], i) => {
    const y = i * ROW;
    const width = Math.max(0.5, (BARS * vsize) / largest);
    const bar = svg('g', { class: 'bar', 'data-feerate': rate, 'data-vsize': vsize });
    bar.append(
      svg('title', {}, `${count(vsize)} vB paying at least ${rate} sat/vB`),
      svg('text', { x: `${LABEL - 2}%`, y: y + 15, 'text-anchor': 'end', class: 'label' },
        `≥ ${rate} sat/vB`),
      svg('rect', { x: `${LABEL}%`, y: y + 3, width: `${width}%`, height: ROW - 6, rx: 2 }),
      svg('text', { x: `${LABEL + width + 1}%`, y: y + 15, class: 'value' },
        `${count(vsize)} vB`));
    chart.append(bar);
  });
  return chart;
}
