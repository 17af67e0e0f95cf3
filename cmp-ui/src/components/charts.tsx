/**
 * Charts as small SVG components: a bar series over time and a funnel. Each is an image with a
 * text alternative, and its numbers stand beside it in a table, so nothing is only in a picture.
 * No chart library: these two shapes are all the screens need, and the bundle stays small.
 */
import { formatCount, formatRate } from '../format.js';

export interface SeriesPoint {
  readonly label: string;
  readonly values: Readonly<Record<string, number>>;
}

const COLORS: Readonly<Record<string, string>> = { injected: '#1f5fa8', reinjected: '#7a4fb0', read: '#18794e', expunged: '#b3261e' };

export function SeriesChart({ title, points, keys }: { title: string; points: readonly SeriesPoint[]; keys: readonly string[] }) {
  const width = 640;
  const height = 200;
  const pad = { left: 40, right: 8, top: 8, bottom: 24 };
  const max = Math.max(1, ...points.flatMap((point) => keys.map((key) => point.values[key] ?? 0)));
  const slot = (width - pad.left - pad.right) / Math.max(1, points.length);
  const bar = Math.max(1, (slot - 2) / keys.length);
  const y = (value: number): number => pad.top + (height - pad.top - pad.bottom) * (1 - value / max);
  const total = (key: string): number => points.reduce((sum, point) => sum + (point.values[key] ?? 0), 0);
  const summary = keys.map((key) => `${key} ${formatCount(total(key))}`).join(', ');
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}: ${summary} over ${points.length} periods`} preserveAspectRatio="none">
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} class="axis" />
        <text x={pad.left - 4} y={y(max) + 4} class="tick" text-anchor="end">
          {formatCount(max)}
        </text>
        <text x={pad.left - 4} y={y(0)} class="tick" text-anchor="end">
          0
        </text>
        {points.map((point, index) =>
          keys.map((key, k) => {
            const value = point.values[key] ?? 0;
            return value > 0 ? <rect key={`${index}-${key}`} x={pad.left + index * slot + 1 + k * bar} y={y(value)} width={bar} height={y(0) - y(value)} fill={COLORS[key] ?? '#555'} /> : null;
          }),
        )}
        {points.map((point, index) =>
          index % labelEvery === 0 ? (
            <text key={`l${index}`} x={pad.left + index * slot} y={height - 6} class="tick">
              {point.label}
            </text>
          ) : null,
        )}
      </svg>
      <figcaption>
        {title}:{' '}
        {keys.map((key) => (
          <span key={key} class="legend">
            <span class="swatch" style={{ background: COLORS[key] ?? '#555' }} aria-hidden="true" /> {key} {formatCount(total(key))}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function Funnel({ steps }: { steps: readonly { label: string; value: number }[] }) {
  const first = Math.max(1, steps[0]?.value ?? 0);
  return (
    <ol class="funnel" aria-label="Funnel">
      {steps.map((step) => (
        <li key={step.label}>
          <span class="funnel-label">{step.label}</span>
          <span class="funnel-bar" aria-hidden="true">
            <span style={{ width: `${Math.max(0.5, (100 * step.value) / first)}%` }} />
          </span>
          <span class="funnel-value">
            {formatCount(step.value)} <small>({formatRate(step.value / first)})</small>
          </span>
        </li>
      ))}
    </ol>
  );
}
