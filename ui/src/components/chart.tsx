// A small line/area chart over time, drawn as SVG by hand: one or more series of (time, value)
// points, a time axis, a value axis with round ticks, and a text alternative (a summary for
// screen readers and a collapsible table of every point).
import { useEffect, useId, useRef, useState } from "preact/hooks";
import "./chart.css";

export interface Point {
  /** Milliseconds since the epoch. */
  t: number;
  /** `null` leaves a gap in the line (an unknown value). */
  v: number | null;
}

export interface Series {
  label: string;
  points: Point[];
}

const COLORS = ["#1f5fd1", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285"];
const MARGIN = { top: 10, right: 12, bottom: 26, left: 52 };

export function TimeChart(props: {
  title: string;
  series: Series[];
  /** Fill the area under a single series. */
  area?: boolean;
  /** Formats a value for the axis, the summary and the table. */
  format?: (v: number) => string;
  /** The time range to show; defaults to the range of the points. */
  domain?: [number, number];
  /**
   * Draw steps: each point holds its value for this many milliseconds (hourly totals are a
   * count over the hour, not a value at its start).
   */
  step?: number;
  height?: number;
}) {
  const format = props.format ?? formatNumber;
  const height = props.height ?? 180;
  const captionId = useId();
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);

  const all = props.series.flatMap((s) => s.points);
  const values = all.map((p) => p.v).filter((v): v is number => v !== null && Number.isFinite(v));
  const times = all.map((p) => p.t);
  const [t0, t1] = props.domain ?? [Math.min(...times), Math.max(...times) + (props.step ?? 0)];
  const hasData = values.length > 0 && Number.isFinite(t0) && Number.isFinite(t1);

  const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
  const plotH = height - MARGIN.top - MARGIN.bottom;
  // Values start at zero (rates, latencies and counts are never negative), so heights compare.
  const yTicks = niceTicks(0, Math.max(...values, 0), 4);
  const yMax = yTicks[yTicks.length - 1] || 1;
  const span = t1 > t0 ? t1 - t0 : 1;
  const x = (t: number) => MARGIN.left + ((t - t0) / span) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const xTicks = hasData ? timeTicks(t0, t1, Math.max(2, Math.floor(plotW / 70))) : [];

  return (
    <figure class="chart">
      <figcaption id={captionId}>{props.title}</figcaption>
      {props.series.length > 1 && (
        <ul class="chart-legend" aria-hidden="true">
          {props.series.map((s, i) => (
            <li key={s.label}>
              <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} />
              {s.label}
            </li>
          ))}
        </ul>
      )}
      <div ref={wrap} class="chart-plot">
        <svg
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-labelledby={captionId}
          aria-describedby={`${captionId}-summary`}
        >
          {yTicks.map((tick) => (
            <g key={tick} class="chart-grid">
              <line x1={MARGIN.left} x2={MARGIN.left + plotW} y1={y(tick)} y2={y(tick)} />
              <text x={MARGIN.left - 6} y={y(tick)} text-anchor="end" dominant-baseline="middle">
                {format(tick)}
              </text>
            </g>
          ))}
          {xTicks.map((tick) => (
            <g key={tick.t} class="chart-axis">
              <line x1={x(tick.t)} x2={x(tick.t)} y1={MARGIN.top + plotH} y2={MARGIN.top + plotH + 4} />
              <text x={x(tick.t)} y={height - 6} text-anchor={anchorFor(x(tick.t), width)}>
                {tick.label}
              </text>
            </g>
          ))}
          <line
            class="chart-baseline"
            x1={MARGIN.left}
            x2={MARGIN.left + plotW}
            y1={MARGIN.top + plotH}
            y2={MARGIN.top + plotH}
          />
          {hasData &&
            props.series.map((s, i) => {
              const color = COLORS[i % COLORS.length];
              const runs = segments(s.points, props.step);
              return (
                <g key={s.label}>
                  {props.area &&
                    runs.map((run, j) => (
                      <path key={j} d={areaPath(run, x, y, y(0))} fill={color} fill-opacity="0.15" stroke="none" />
                    ))}
                  {runs.map((run, j) =>
                    run.length === 1 ? (
                      <circle key={j} cx={x(run[0].t)} cy={y(run[0].v)} r="2.5" fill={color} />
                    ) : (
                      <path key={j} d={linePath(run, x, y)} fill="none" stroke={color} stroke-width="1.75" />
                    ),
                  )}
                </g>
              );
            })}
          {!hasData && (
            <text class="chart-empty" x={MARGIN.left + plotW / 2} y={MARGIN.top + plotH / 2} text-anchor="middle">
              No data yet
            </text>
          )}
        </svg>
      </div>
      <p id={`${captionId}-summary`} class="visually-hidden">
        {summary(props.series, format)}
      </p>
      <details class="chart-data">
        <summary>Data table</summary>
        <DataTable series={props.series} format={format} />
      </details>
    </figure>
  );
}

/** The plot's width follows its container (the SVG keeps text at its real size). */
function useWidth(ref: { current: HTMLElement | null }): number {
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      const next = Math.floor(entry.contentRect.width);
      if (next > 0) setWidth(next);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return width;
}

type Known = { t: number; v: number };

/** A label at the right edge is anchored at its end so it is not cut off (the left has a margin). */
function anchorFor(position: number, width: number): "middle" | "end" {
  return position > width - 24 ? "end" : "middle";
}

/**
 * Splits a series at unknown values, so a gap is drawn as a gap and not as a slope; with `step`,
 * each value is held until the step ends.
 */
function segments(points: Point[], step?: number): Known[][] {
  const runs: Known[][] = [];
  let current: Known[] = [];
  for (const p of points) {
    if (p.v === null || !Number.isFinite(p.v)) {
      if (current.length) runs.push(current);
      current = [];
    } else {
      current.push({ t: p.t, v: p.v });
      if (step) current.push({ t: p.t + step, v: p.v });
    }
  }
  if (current.length) runs.push(current);
  return runs;
}

function linePath(run: Known[], x: (t: number) => number, y: (v: number) => number): string {
  return run.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
}

function areaPath(run: Known[], x: (t: number) => number, y: (v: number) => number, base: number): string {
  const first = x(run[0].t).toFixed(1);
  const last = x(run[run.length - 1].t).toFixed(1);
  return `${linePath(run, x, y)}L${last},${base.toFixed(1)}L${first},${base.toFixed(1)}Z`;
}

/** About `count` round values from `min` to at least `max` (steps of 1, 2 or 5 × 10ⁿ). */
export function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) return [min, min + 1];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v < max + step; v += step) {
    // Rounding keeps 0.1 + 0.2 from printing as 0.30000000000000004.
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return ticks;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
];

/** Ticks at round local times (every 30 s, 5 min, 6 h, …), at most `max` of them. */
function timeTicks(t0: number, t1: number, max: number): { t: number; label: string }[] {
  const span = Math.max(t1 - t0, SECOND);
  const step = TIME_STEPS.find((s) => span / s <= max) ?? TIME_STEPS[TIME_STEPS.length - 1];
  // Round in local time: shift by the zone offset so hour ticks land on the local hour.
  const offset = new Date(t0).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let t = Math.ceil((t0 - offset) / step) * step + offset; t <= t1; t += step) {
    ticks.push({ t, label: formatTime(t, step) });
  }
  return ticks;
}

function formatTime(t: number, step: number): string {
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step < MINUTE) return `${hm}:${pad(d.getSeconds())}`;
  if (step < DAY) return d.getHours() === 0 && d.getMinutes() === 0 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : hm;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function formatNumber(v: number): string {
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

function summary(series: Series[], format: (v: number) => string): string {
  return series
    .map((s) => {
      const known = s.points.filter((p) => p.v !== null).map((p) => p.v as number);
      if (!known.length) return `${s.label}: no data.`;
      const latest = known[known.length - 1];
      return `${s.label}: latest ${format(latest)}, lowest ${format(Math.min(...known))}, highest ${format(Math.max(...known))}, ${known.length} points.`;
    })
    .join(" ");
}

function DataTable(props: { series: Series[]; format: (v: number) => string }) {
  // One row per time; a column per series (series may have points at different times).
  const times = [...new Set(props.series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const lookup = props.series.map((s) => new Map(s.points.map((p) => [p.t, p.v])));
  return (
    <table class="data">
      <thead>
        <tr>
          <th scope="col">Time</th>
          {props.series.map((s) => (
            <th scope="col" key={s.label}>
              {s.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {times.map((t) => (
          <tr key={t}>
            <td>{new Date(t).toLocaleString()}</td>
            {lookup.map((m, i) => {
              const v = m.get(t);
              return <td key={i}>{v === undefined || v === null ? "—" : props.format(v)}</td>;
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
