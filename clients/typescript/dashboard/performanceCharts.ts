import type { PerformanceGroup } from "../src/index.js";

const GRID = "#263040";
const TEXT = "#7b8794";
const COLORS = ["#3584e4", "#e5a50a", "#26a269", "#c061cb", "#e66100", "#33c7de", "#e01b24", "#9a9996"];

/** One line of a chart: a model's roll-up row (over every symbol and timeframe). */
interface Series {
  label: string;
  color: string;
  dashed: boolean;
  bold: boolean;
  markers: boolean;
  points: Array<[number, number]>;
}

/** The rows the charts draw: each model over every symbol and timeframe, the ensemble last (on top). */
export function rollUps(groups: PerformanceGroup[]): PerformanceGroup[] {
  return groups
    .filter((g) => g.symbol === "*" && g.timeframe === "*")
    .sort((a, b) => Number(a.model === "ensemble" && !a.isShadow) - Number(b.model === "ensemble" && !b.isShadow)
      || Number(a.isShadow) - Number(b.isShadow) || a.model.localeCompare(b.model));
}

function seriesOf(rows: PerformanceGroup[], points: (g: PerformanceGroup) => Array<[number, number]>, markers = false): Series[] {
  return rows
    .map((g, i) => ({
      label: g.model + (g.isShadow ? " (shadow)" : ""),
      color: g.model === "ensemble" && !g.isShadow ? "#d8dee9" : COLORS[i % COLORS.length]!,
      dashed: g.isShadow,
      bold: g.model === "ensemble" && !g.isShadow,
      markers,
      points: points(g),
    }))
    .filter((s) => s.points.length > 0);
}

/**
 * A small line chart on a canvas (no chart library): axes with four grid lines, one line per series, a legend.
 * After each draw it sets `data-series` and `data-points` on the canvas (what was drawn), which the dashboard test reads.
 */
abstract class LineChart {
  private frame = 0;
  protected series: Series[] = [];

  constructor(protected readonly canvas: HTMLCanvasElement) {}

  protected abstract readonly empty: string;

  protected abstract bounds(): { x0: number; x1: number; y0: number; y1: number };

  protected abstract xLabel(x: number): string;

  protected abstract yLabel(y: number): string;

  protected decorate(_g: CanvasRenderingContext2D, _x: (v: number) => number, _y: (v: number) => number): void {}

  protected schedule(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (this.canvas.width !== Math.round(width * ratio)) this.canvas.width = Math.round(width * ratio);
    if (this.canvas.height !== Math.round(height * ratio)) this.canvas.height = Math.round(height * ratio);
    const g = this.canvas.getContext("2d");
    if (g === null) return;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = "11px system-ui, sans-serif";
    const drawn = this.series.reduce((n, s) => n + s.points.length, 0);
    this.canvas.dataset.series = String(this.series.length);
    this.canvas.dataset.points = String(drawn);
    if (drawn === 0) {
      g.fillStyle = TEXT;
      g.fillText(this.empty, 12, 20);
      return;
    }

    const { x0, x1, y0, y1 } = this.bounds();
    const left = 48;
    const bottom = 22;
    const plotW = width - left - 10;
    const plotH = height - bottom - 10;
    const x = (v: number) => left + ((v - x0) / (x1 - x0 || 1)) * plotW;
    const y = (v: number) => 10 + (1 - (v - y0) / (y1 - y0 || 1)) * plotH;

    g.strokeStyle = GRID;
    g.fillStyle = TEXT;
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const vy = y0 + ((y1 - y0) * i) / 4;
      const py = Math.round(y(vy)) + 0.5;
      g.beginPath();
      g.moveTo(left, py);
      g.lineTo(left + plotW, py);
      g.stroke();
      g.fillText(this.yLabel(vy), 4, py + 4);
      const vx = x0 + ((x1 - x0) * i) / 4;
      const label = this.xLabel(vx);
      g.fillText(label, Math.min(x(vx) - g.measureText(label).width / 2, width - g.measureText(label).width - 2), height - 6);
    }

    this.decorate(g, x, y);
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = s.bold ? 2.5 : 1.5;
      g.setLineDash(s.dashed ? [5, 4] : []);
      g.beginPath();
      s.points.forEach(([px, py], i) => (i === 0 ? g.moveTo(x(px), y(py)) : g.lineTo(x(px), y(py))));
      g.stroke();
      if (s.markers || s.points.length === 1) for (const [px, py] of s.points) g.fillRect(x(px) - 2.5, y(py) - 2.5, 5, 5);
    }
    g.setLineDash([]);

    let ly = 20;
    for (const s of [...this.series].reverse()) {
      g.fillStyle = s.color;
      g.fillRect(left + 8, ly - 7, 10, 3);
      g.fillStyle = TEXT;
      g.fillText(s.label, left + 22, ly - 2);
      ly += 14;
    }
  }
}

/** Cumulative R of each model over market time, from the roll-up rows' equity curves. */
export class EquityChart extends LineChart {
  protected readonly empty = "no resolved signals yet";

  set(groups: PerformanceGroup[]): void {
    this.series = seriesOf(rollUps(groups), (g) => (g.equity ?? []).map((p) => [p.resolvedCandleOpenTime, p.cumulativeR]));
    this.schedule();
  }

  protected bounds() {
    const xs = this.series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = this.series.flatMap((s) => s.points.map((p) => p[1])).concat(0);
    const pad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || 1;
    return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys) - pad, y1: Math.max(...ys) + pad };
  }

  protected xLabel(x: number): string {
    return new Date(x).toISOString().slice(11, 16);
  }

  protected yLabel(y: number): string {
    return `${y.toFixed(1)}R`;
  }
}

/** Predicted probability of the direction against the observed win rate, per model, beside the diagonal. */
export class CalibrationChart extends LineChart {
  protected readonly empty = "no resolved signals yet";

  set(groups: PerformanceGroup[]): void {
    this.series = seriesOf(rollUps(groups), (g) => g.calibration.map((b) => [b.meanPredicted, b.observedWinRate]), true);
    this.schedule();
  }

  protected bounds() {
    return { x0: 0, x1: 1, y0: 0, y1: 1 };
  }

  protected xLabel(x: number): string {
    return `${Math.round(x * 100)}%`;
  }

  protected yLabel(y: number): string {
    return `${Math.round(y * 100)}%`;
  }

  protected override decorate(g: CanvasRenderingContext2D, x: (v: number) => number, y: (v: number) => number): void {
    g.strokeStyle = TEXT;
    g.setLineDash([3, 4]);
    g.beginPath();
    g.moveTo(x(0), y(0));
    g.lineTo(x(1), y(1));
    g.stroke();
    g.setLineDash([]);
  }
}
