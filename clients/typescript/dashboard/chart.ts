import type { CandleMessage, Signal } from "../src/index.js";

const UP = "#26a269";
const DOWN = "#e01b24";
const GRID = "#263040";
const TEXT = "#7b8794";

/** The most candles kept and drawn; older ones scroll off the left edge. */
export const MAX_CANDLES = 90;
const MIN_SLOTS = 40;

/** A candle chart on a canvas with signal markers and the latest signal's levels. No chart library: ~100 lines. */
export class CandleChart {
  private candles: CandleMessage[] = [];
  private signals: Signal[] = [];
  private frame = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  reset(): void {
    this.candles = [];
    this.signals = [];
    this.schedule();
  }

  /** Adds or updates a candle (an in-progress one is replaced until it closes). */
  upsert(candle: CandleMessage): void {
    const last = this.candles.at(-1);
    if (last !== undefined && last.openTime === candle.openTime) this.candles[this.candles.length - 1] = candle;
    else if (last === undefined || candle.openTime > last.openTime) this.candles.push(candle);
    if (this.candles.length > MAX_CANDLES) this.candles.splice(0, this.candles.length - MAX_CANDLES);
    this.canvas.dataset.candles = String(this.candles.length);
    this.schedule();
  }

  setSignals(signals: Signal[]): void {
    this.signals = signals;
    this.schedule();
  }

  private schedule(): void {
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

    if (this.candles.length === 0) {
      g.fillStyle = TEXT;
      g.fillText("waiting for candles…", 12, 20);
      return;
    }

    const latest = this.signals.at(-1);
    const levels = latest ? [latest.entry, latest.target, latest.stop] : [];
    let low = Math.min(...this.candles.map((c) => c.low), ...levels);
    let high = Math.max(...this.candles.map((c) => c.high), ...levels);
    const pad = (high - low) * 0.08 || high * 0.001 || 1;
    low -= pad;
    high += pad;

    const axis = 64;
    const plotWidth = width - axis;
    // Few candles at the start spread over at least MIN_SLOTS slots rather than the full width.
    const step = plotWidth / Math.max(MIN_SLOTS, this.candles.length);
    const body = Math.max(1, step * 0.65);
    const y = (price: number) => ((high - price) / (high - low)) * (height - 16) + 8;
    const xOf = (index: number) => plotWidth - (this.candles.length - index - 0.5) * step;

    g.strokeStyle = GRID;
    g.fillStyle = TEXT;
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const price = low + ((high - low) * i) / 4;
      const py = Math.round(y(price)) + 0.5;
      g.beginPath();
      g.moveTo(0, py);
      g.lineTo(plotWidth, py);
      g.stroke();
      g.fillText(formatPrice(price), plotWidth + 6, py + 4);
    }

    this.candles.forEach((c, i) => {
      const x = xOf(i);
      const color = c.close >= c.open ? UP : DOWN;
      g.strokeStyle = color;
      g.fillStyle = color;
      g.beginPath();
      g.moveTo(Math.round(x) + 0.5, y(c.high));
      g.lineTo(Math.round(x) + 0.5, y(c.low));
      g.stroke();
      const top = y(Math.max(c.open, c.close));
      const bottom = y(Math.min(c.open, c.close));
      g.globalAlpha = c.isClosed ? 1 : 0.55;
      g.fillRect(x - body / 2, top, body, Math.max(1, bottom - top));
      g.globalAlpha = 1;
    });

    const indexByOpen = new Map(this.candles.map((c, i) => [c.openTime, i]));
    for (const signal of this.signals) {
      const i = indexByOpen.get(signal.candleOpenTime);
      if (i === undefined) continue;
      const c = this.candles[i]!;
      const long = signal.direction === "long";
      const x = xOf(i);
      const tip = long ? y(c.low) + 6 : y(c.high) - 6;
      const size = Math.max(5, Math.min(9, step * 0.6));
      g.fillStyle = long ? UP : DOWN;
      g.beginPath();
      g.moveTo(x, tip);
      g.lineTo(x - size, tip + (long ? size * 1.6 : -size * 1.6));
      g.lineTo(x + size, tip + (long ? size * 1.6 : -size * 1.6));
      g.closePath();
      g.fill();
    }

    if (latest) {
      g.setLineDash([5, 4]);
      const lines: Array<[string, number, string]> = [
        ["entry", latest.entry, "#d8dee9"],
        ["target", latest.target, UP],
        ["stop", latest.stop, DOWN],
      ];
      for (const [label, price, color] of lines) {
        const py = Math.round(y(price)) + 0.5;
        g.strokeStyle = color;
        g.fillStyle = color;
        g.beginPath();
        g.moveTo(0, py);
        g.lineTo(plotWidth, py);
        g.stroke();
        g.fillText(label, 4, py - 3);
      }
      g.setLineDash([]);
    }
  }
}

export function formatPrice(price: number): string {
  const abs = Math.abs(price);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 4 : 6;
  return price.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
