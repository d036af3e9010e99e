/**
 * A line chart drawn as our own SVG (no chart library): one line per series
 * over time buckets, a titled figure with a legend, and the same numbers as a
 * table for screen readers and for anyone who wants the exact figures.
 * Colours differ by lightness and each line also has its own dash pattern,
 * so the lines can be told apart without colour.
 *
 * The drawing is as wide as the space it has (measured), one unit of the SVG
 * to one CSS pixel: the axis labels keep their size on a phone instead of
 * shrinking with a scaled drawing, and only as many time labels are written
 * as fit side by side.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useTexts } from '../../lib/lang.ts';

export interface ChartSeries {
  key: string;
  label: string;
  values: number[];
}

const COLOURS = ['#0b7a75', '#1d4ed8', '#7c3aed', '#b45309', '#13703a', '#b3261e'];
const DASHES = ['', '6 3', '2 3', '10 4 2 4', '1 2', '8 2 2 2'];

const T = {
  id: { numbers: 'Angka', time: 'Waktu', max: 'maks. {n}' },
  en: { numbers: 'Numbers', time: 'Time', max: 'max {n}' },
};

export function LineChart(props: { id: string; title: string; labels: string[]; series: ChartSeries[]; height?: number }) {
  const t = useTexts(T);
  const box = useRef<HTMLDivElement>(null);
  const [measured, setMeasured] = useState(0);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const read = (): void => setMeasured(Math.round(el.getBoundingClientRect().width));
    read();
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(read);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const w = Math.max(240, measured || 640);
  const h = props.height ?? 220;
  const pad = { l: 40, r: 12, t: 12, b: 28 };
  const n = props.labels.length;
  const max = Math.max(1, ...props.series.flatMap((s) => s.values));
  const x = (i: number) => pad.l + (n <= 1 ? 0 : (i * (w - pad.l - pad.r)) / (n - 1));
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
  const ticks = [0, Math.round(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);
  // A label is about 7 px per character at 12 px; keep a gap between neighbours.
  const labelWidth = Math.max(...props.labels.map((l) => l.length), 1) * 7 + 16;
  const fit = Math.max(2, Math.floor((w - pad.l - pad.r) / labelWidth));
  const every = Math.max(1, Math.ceil(n / fit));
  const titleId = `${props.id}-title`;
  return (
    <figure class="op-chart" data-testid={props.id}>
      <figcaption id={titleId}>{props.title}</figcaption>
      <div ref={box} class="op-chart-box">
      <svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-labelledby={titleId}>
        <title>{props.title}</title>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={w - pad.r} y1={y(v)} y2={y(v)} class="op-grid" />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end" class="op-axis">
              {v}
            </text>
          </g>
        ))}
        {props.labels.map((l, i) =>
          i % every === 0 ? (
            <text key={i} x={x(i)} y={h - 8} text-anchor={i === 0 ? 'start' : 'middle'} class="op-axis">
              {l}
            </text>
          ) : null,
        )}
        {props.series.map((s, k) => (
          <polyline
            key={s.key}
            data-series={s.key}
            fill="none"
            stroke={COLOURS[k % COLOURS.length]}
            stroke-width="2"
            stroke-dasharray={DASHES[k % DASHES.length]}
            vector-effect="non-scaling-stroke"
            points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
      </div>
      <ul class="op-legend">
        {props.series.map((s, k) => (
          <li key={s.key}>
            <svg width="24" height="8" aria-hidden="true">
              <line x1="0" x2="24" y1="4" y2="4" stroke={COLOURS[k % COLOURS.length]} stroke-width="2" stroke-dasharray={DASHES[k % DASHES.length]} />
            </svg>
            {s.label} <span class="hint">({t('max', { n: Math.max(0, ...s.values) })})</span>
          </li>
        ))}
      </ul>
      <details class="op-chart-table">
        <summary>{t('numbers')}</summary>
        <div class="op-table-wrap">
          <table class="op-table">
            <caption class="visually-hidden">{props.title}</caption>
            <thead>
              <tr>
                <th scope="col">{t('time')}</th>
                {props.series.map((s) => (
                  <th scope="col" key={s.key}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.labels.map((l, i) => (
                <tr key={i}>
                  <th scope="row">{l}</th>
                  {props.series.map((s) => (
                    <td key={s.key} data-series={s.key}>
                      {s.values[i]}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
