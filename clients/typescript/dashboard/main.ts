/**
 * The live dashboard served by the hub at `/`. Plain DOM and a canvas, built on the SDK: one client, a signal
 * subscription per symbol, a candle subscription for the chart, and the REST API for symbols and the journal.
 */
import {
  type CandleMessage,
  type CandleSubscription,
  connect,
  type ConnectionState,
  type PerformanceGroup,
  type Signal,
  type SignalSource,
  SignalStreamApi,
  type SignalStreamClient,
  type Timeframe,
  TIMEFRAMES,
} from "../src/index.js";
import { CandleChart, formatPrice } from "./chart.js";
import { CalibrationChart, EquityChart } from "./performanceCharts.js";

const FEED_ROWS = 60;
const LATENCY_WINDOW = 100;
const PERFORMANCE_REFRESH_MS = 5_000;

const api = new SignalStreamApi("");
const chart = new CandleChart(byId<HTMLCanvasElement>("chart"));
const equityChart = new EquityChart(byId<HTMLCanvasElement>("equity-chart"));
const calibrationChart = new CalibrationChart(byId<HTMLCanvasElement>("calibration-chart"));

const latest = new Map<string, Map<Timeframe, Signal>>(); // symbol → timeframe → newest signal
const recentBySymbolTf = new Map<string, Signal[]>(); // "SYMBOL@tf" → signals, for the chart's markers
const counts = new Map<string, number>();
const e2eSamples: number[] = [];
const pipelineSamples: number[] = [];
let symbols: string[] = [];
let selectedSymbol = "";
let selectedTimeframe: Timeframe = "1m";
let timeframes: Timeframe[] = [];
let candleSub: CandleSubscription | undefined;
let client: SignalStreamClient | undefined;
let received = 0;

void main();

async function main(): Promise<void> {
  void refreshPerformance();
  setInterval(() => void refreshPerformance(), PERFORMANCE_REFRESH_MS);
  void showModels();

  const served = await retry("loading symbols", () => api.symbols());
  symbols = served.map((s) => s.symbol);
  timeframes = [...new Set(served.flatMap((s) => s.timeframes))]
    .filter((tf): tf is Timeframe => TIMEFRAMES.includes(tf as Timeframe))
    .sort((a, b) => TIMEFRAMES.indexOf(a) - TIMEFRAMES.indexOf(b));
  selectedSymbol = symbols[0] ?? "";
  selectedTimeframe = timeframes[0] ?? selectedTimeframe;
  renderSymbols();

  client = await retry("connecting", () => connect(location.origin));
  setStatus(client.state);
  client.onStateChange((state) => setStatus(state));

  for (const symbol of symbols) {
    try {
      await client.subscribe(symbol, {}, {
        onSignal: (signal, info) => onSignal(signal, info.source),
        onError: (error) => console.warn(error.message),
      });
    } catch (error) {
      text("footer", `${symbol}: ${(error as Error).message}`);
    }
  }
  await selectChart(selectedSymbol, selectedTimeframe);
}

function onSignal(signal: Signal, source: SignalSource): void {
  const now = Date.now();
  let perTf = latest.get(signal.symbol);
  if (perTf === undefined) latest.set(signal.symbol, (perTf = new Map()));
  perTf.set(signal.timeframe, signal);
  if (!timeframes.includes(signal.timeframe)) {
    timeframes = [...timeframes, signal.timeframe].sort((a, b) => TIMEFRAMES.indexOf(a) - TIMEFRAMES.indexOf(b));
    renderTimeframes();
  }

  const key = `${signal.symbol}@${signal.timeframe}`;
  const recent = recentBySymbolTf.get(key) ?? [];
  recent.push(signal);
  if (recent.length > 200) recent.shift();
  recentBySymbolTf.set(key, recent);
  counts.set(signal.symbol, (counts.get(signal.symbol) ?? 0) + 1);

  let latency: number | undefined;
  if (source === "live") {
    latency = now - signal.exchangeTime;
    push(e2eSamples, latency);
    if (signal.publishedAt > 0) push(pipelineSamples, signal.publishedAt - signal.exchangeTime);
    text("latency-e2e", formatMs(median(e2eSamples)));
    text("latency-pipeline", pipelineSamples.length > 0 ? formatMs(median(pipelineSamples)) : "–");
  }

  received++;
  text("signal-count", String(received));
  addFeedRow(signal, source, latency);
  renderSymbols();
  if (signal.symbol === selectedSymbol) {
    renderLatest();
    if (signal.timeframe === selectedTimeframe) chart.setSignals(recent);
  }
}

function addFeedRow(signal: Signal, source: SignalSource, latency: number | undefined): void {
  const feed = byId("feed");
  const row = el("tr", { className: `fresh ${signal.direction}` });
  row.dataset.seq = String(signal.seq);
  row.dataset.symbol = signal.symbol;
  row.dataset.source = source;
  const cells = [
    String(signal.seq),
    new Date(signal.candleCloseTime + 1).toISOString().slice(11, 19),
    signal.symbol,
    signal.timeframe,
    signal.direction,
    signal.confidence.toFixed(1),
    formatPrice(signal.entry),
    formatPrice(signal.target),
    formatPrice(signal.stop),
    signal.riskReward.toFixed(2),
    latency === undefined ? "" : formatMs(latency),
    source,
  ];
  cells.forEach((value, i) => row.append(el("td", { textContent: value, className: i === 4 ? "dir" : "" })));
  feed.prepend(row);
  while (feed.children.length > FEED_ROWS) feed.lastElementChild?.remove();
}

function renderLatest(): void {
  text("latest-symbol", selectedSymbol);
  const container = byId("latest");
  const perTf = latest.get(selectedSymbol);
  if (perTf === undefined || perTf.size === 0) {
    container.replaceChildren(el("p", { className: "muted", textContent: "waiting for signals…" }));
    return;
  }
  const cards = [...perTf.values()]
    .sort((a, b) => TIMEFRAMES.indexOf(a.timeframe) - TIMEFRAMES.indexOf(b.timeframe))
    .map((s) => {
      const card = el("article", { className: `card ${s.direction}` });
      card.dataset.timeframe = s.timeframe;
      card.dataset.seq = String(s.seq);
      const head = el("div", { className: "head" });
      head.append(el("span", { className: "tf", textContent: s.timeframe }), el("span", { className: "dir", textContent: s.direction }));
      const bar = el("div", { className: "confidence" });
      const fill = el("div");
      fill.style.width = `${Math.max(0, Math.min(100, s.confidence))}%`;
      bar.append(fill);
      const dl = el("dl");
      const rows: Array<[string, string]> = [
        ["confidence", `${s.confidence.toFixed(1)}%`],
        ["entry", formatPrice(s.entry)],
        ["target", formatPrice(s.target)],
        ["stop", formatPrice(s.stop)],
        ["R:R", s.riskReward.toFixed(2)],
        ["fusion", s.fusionScore.toFixed(0)],
        ["seq", String(s.seq)],
      ];
      for (const [k, v] of rows) dl.append(el("dt", { textContent: k }), el("dd", { textContent: v }));
      card.append(head, bar, dl);
      card.title = s.rationale.join("\n");
      return card;
    });
  container.replaceChildren(...cards);
}

function renderSymbols(): void {
  const list = byId("symbols");
  list.replaceChildren(
    ...symbols.map((symbol) => {
      const item = el("li", { className: symbol === selectedSymbol ? "selected" : "" });
      item.dataset.symbol = symbol;
      item.append(el("span", { textContent: symbol }), el("span", { className: "count", textContent: String(counts.get(symbol) ?? 0) }));
      item.onclick = () => void selectChart(symbol, selectedTimeframe);
      return item;
    }),
  );
}

function renderTimeframes(): void {
  byId("timeframes").replaceChildren(
    ...timeframes.map((tf) => {
      const button = el("button", { textContent: tf, className: tf === selectedTimeframe ? "selected" : "" });
      button.onclick = () => void selectChart(selectedSymbol, tf);
      return button;
    }),
  );
}

async function selectChart(symbol: string, timeframe: Timeframe): Promise<void> {
  if (client === undefined || symbol === "") return;
  selectedSymbol = symbol;
  selectedTimeframe = timeframe;
  renderSymbols();
  renderTimeframes();
  renderLatest();
  text("chart-title", `${symbol} ${timeframe}`);
  const previous = candleSub;
  candleSub = undefined;
  await previous?.unsubscribe();
  chart.reset();
  chart.setSignals(recentBySymbolTf.get(`${symbol}@${timeframe}`) ?? []);
  const sub = await client.subscribeCandles(symbol, timeframe, (candle: CandleMessage) => {
    if (candleSub === sub) chart.upsert(candle);
  });
  candleSub = sub;
}

async function refreshPerformance(): Promise<void> {
  let groups: PerformanceGroup[];
  let generatedAt: number;
  try {
    ({ groups, generatedAt } = await api.performance());
  } catch (error) {
    text("performance-time", `unavailable: ${(error as Error).message}`);
    return;
  }
  equityChart.set(groups);
  calibrationChart.set(groups);
  // Roll-ups over every symbol: the ensemble (what subscribers got) per timeframe, then each model overall.
  const rows = groups
    .filter((g) => g.symbol === "*" && (g.model === "ensemble" || g.timeframe === "*"))
    .sort((a, b) => rank(a) - rank(b) || a.model.localeCompare(b.model) || tfOrder(a.timeframe) - tfOrder(b.timeframe));
  const body = byId("performance");
  if (rows.length === 0) {
    body.replaceChildren(row([el("td", { className: "muted", textContent: "no resolved signals yet" })], 10));
  } else {
    body.replaceChildren(
      ...rows.map((g) => {
        const tr = el("tr");
        tr.dataset.model = g.model;
        tr.dataset.timeframe = g.timeframe;
        const values = [
          g.model + (g.isShadow ? " (shadow)" : ""), g.timeframe, String(g.signals), String(g.open), String(g.wins),
          String(g.losses), String(g.expired), `${(g.winRate * 100).toFixed(1)}%`, g.profitFactor.toFixed(2), g.averageR.toFixed(2),
        ];
        for (const v of values) tr.append(el("td", { textContent: v }));
        return tr;
      }),
    );
  }
  text("performance-time", `updated ${new Date(generatedAt).toLocaleTimeString()}`);
}

async function showModels(): Promise<void> {
  try {
    const models = await api.models();
    text("models", models.length === 0
      ? "Models: none loaded (put model manifests in Models:Path)"
      : "Models: " + models.map((m) => `${m.name} ${m.version} (${m.status}${m.error ? `: ${m.error}` : ""})`).join(" · "));
  } catch (error) {
    text("models", `Models unavailable: ${(error as Error).message}`);
  }
}

function setStatus(state: ConnectionState): void {
  const status = byId("status");
  status.dataset.state = state;
  status.textContent = state;
}

async function retry<T>(what: string, action: () => Promise<T>): Promise<T> {
  const footer = byId("footer").textContent ?? "";
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await action();
      text("footer", footer);
      return result;
    } catch (error) {
      setStatus("disconnected");
      text("footer", `${what} failed (${(error as Error).message}); retrying…`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 500 * 2 ** attempt)));
    }
  }
}

function rank(g: PerformanceGroup): number {
  return g.model === "ensemble" ? (g.timeframe === "*" ? 0 : 1) : 2;
}

function tfOrder(tf: string): number {
  return tf === "*" ? -1 : TIMEFRAMES.indexOf(tf as Timeframe);
}

function row(cells: HTMLElement[], span: number): HTMLTableRowElement {
  const tr = el("tr");
  cells[0]?.setAttribute("colspan", String(span));
  tr.append(...cells);
  return tr;
}

function push(samples: number[], value: number): void {
  samples.push(value);
  if (samples.length > LATENCY_WINDOW) samples.shift();
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function formatMs(ms: number): string {
  return Math.abs(ms) >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

function text(id: string, value: string): void {
  byId(id).textContent = value;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), props);
}
