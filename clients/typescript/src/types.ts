/**
 * Wire types of the SignalStream hub and REST API, mirrored from the C# records in `src/Contracts`.
 *
 * `test/unit/contracts.test.ts` parses those records and fails when a field here is missing, extra or misnamed,
 * so a contract change on the server cannot drift silently past this file. Times are Unix milliseconds (UTC);
 * prices are JSON numbers (the server's decimals).
 */

/** Binance interval names, case-sensitive (`1m` is a minute, `1M` a month). */
export type Timeframe =
  | "1s" | "1m" | "3m" | "5m" | "15m" | "30m"
  | "1h" | "2h" | "4h" | "6h" | "8h" | "12h"
  | "1d" | "3d" | "1w" | "1M";

/** Every timeframe, shortest first (the order of the server's `Timeframes.All`). */
export const TIMEFRAMES: readonly Timeframe[] = [
  "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
];

/** Which way a signal trades. */
export type SignalDirection = "long" | "short";

/** How an issued signal ended. */
export type OutcomeKind = "win" | "loss" | "expired";

/** Class probabilities of a direction model; they sum to 1. */
export interface ClassProbabilities {
  down: number;
  flat: number;
  up: number;
}

/** One model's contribution to a signal. */
export interface ModelVote {
  name: string;
  version: string;
  /** `lstm` or `patchtst`. */
  family: string;
  /** The model's own direction: `long`, `short` or `flat`. */
  vote: string;
  weight: number;
  probabilities: ClassProbabilities;
  /** True for a shadow model (only in shadow signals); absent when false. */
  isShadow?: boolean;
}

/** An actionable trading signal, pushed as the hub's `signal` event. */
export interface Signal {
  id: string;
  /** Per-symbol sequence number, contiguous from 1, surviving server restarts. */
  seq: number;
  symbol: string;
  timeframe: Timeframe;
  direction: SignalDirection;
  /** 0–100. */
  confidence: number;
  probabilities: ClassProbabilities;
  entry: number;
  target: number;
  stop: number;
  riskReward: number;
  /** 0–100. */
  fusionScore: number;
  models: ModelVote[];
  rationale: string[];
  candleOpenTime: number;
  candleCloseTime: number;
  createdAt: number;
  expiresAt: number;
  /** Exchange event time of the candle close behind the signal: where end-to-end latency starts. */
  exchangeTime: number;
  /** When the server's ingestor received that candle close. */
  receivedAt: number;
  /** When the engine published the signal, just before fan-out. */
  publishedAt: number;
  /**
   * Who issued it: `"ensemble"` for the models' own signals, `"tradingview:{source}"` for an alert of a configured
   * TradingView webhook source (whose `models` then holds that one source).
   */
  source: string;
}

/** How a signal resolved, pushed as the hub's `signalResolved` event. */
export interface SignalOutcome {
  signalId: string;
  /**
   * Per-symbol position of the outcome, contiguous from 1 (0 from a server that does not number outcomes): the client
   * resumes with the last one it saw and gets the outcomes it missed.
   */
  outcomeSeq: number;
  signalSeq: number;
  symbol: string;
  timeframe: Timeframe;
  direction: SignalDirection;
  outcome: OutcomeKind;
  entry: number;
  exitPrice: number;
  /** Result in units of initial risk. */
  rMultiple: number;
  resolvedCandleOpenTime: number;
  resolvedAt: number;
  reason: string;
  models: ModelVote[];
  isShadow: boolean;
  /** The resolved signal's `source` (`"ensemble"` or `"tradingview:{source}"`). */
  source: string;
}

/** Argument of the hub's `Subscribe` method. */
export interface SubscribeRequest {
  symbol: string;
  timeframes?: string[] | null;
  minConfidence?: number | null;
  afterSeq?: number | null;
  /** The last outcomeSeq seen (or the last `latestOutcomeSeq`): the result then carries the outcomes after it. */
  afterOutcomeSeq?: number | null;
}

/** Result of the hub's `Subscribe` method. */
export interface SubscribeResult {
  symbol: string;
  timeframes: string[];
  /** Newest seq of the symbol when the subscription joined the live stream. */
  latestSeq: number;
  /** `signalsRecovered` and `outcomesRecovered` together (older servers send only this). */
  recovered: boolean;
  /** Signals after `afterSeq` (or the latest per timeframe without it), oldest first. */
  signals: Signal[];
  /** Why recovery was incomplete, when `recovered` is false. */
  reason?: string | null;
  /** Newest outcomeSeq of the symbol when the subscription joined: live outcomes follow it (absent from older servers). */
  latestOutcomeSeq: number;
  /** Outcomes after `afterOutcomeSeq`, oldest first (empty without it). */
  outcomes: SignalOutcome[];
  /** True when `signals` holds every signal after `afterSeq` (absent from older servers: then see `recovered`). */
  signalsRecovered: boolean;
  /**
   * True when `outcomes` holds every outcome after `afterOutcomeSeq`, true without it (absent from older servers: then see
   * `recovered`). The outcomes are filtered, so holes in their outcomeSeqs are no loss; only this says one is missing.
   */
  outcomesRecovered: boolean;
}

/** The hub's `candle` event: an update of a subscribed candle stream. */
export interface CandleMessage {
  symbol: string;
  timeframe: Timeframe;
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** True once the candle is final; closed candles arrive once, in order. */
  isClosed: boolean;
}

/** A stored candle with every field of Binance's kline payload (the server's `Candle` record). */
export interface Candle {
  symbol: string;
  timeframe: Timeframe;
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  tradeCount: number;
  takerBuyBaseVolume: number;
  takerBuyQuoteVolume: number;
  /** The stream the candle belongs to. */
  stream: StreamKey;
}

/** One symbol at one timeframe. */
export interface StreamKey {
  symbol: string;
  timeframe: Timeframe;
}

/** A loaded model, as `/api/models` reports it. */
export interface ModelInfo {
  name: string;
  version: string;
  family: string;
  /** `active`, `shadow` or `failed`. */
  status: string;
  weight: number;
  window: number;
  features: string[];
  timeframes: string[];
  sha256: string;
  holdoutAccuracy?: number | null;
  brierScore?: number | null;
  error?: string | null;
  /** A recurrent model's chain (one row a step, state kept per stream); absent or null for a windowed one. */
  recurrence?: ModelRecurrence | null;
}

/** How a recurrent model reads a stream: a prediction at bar k steps through the rows from chain·(⌊k/chain⌋ − 1) to k. */
export interface ModelRecurrence {
  chain: number;
  /** Floats of state the node keeps per stream for this model. */
  stateWidth: number;
}

/** Live journal statistics, as `/api/performance` reports them. */
export interface PerformanceReport {
  generatedAt: number;
  groups: PerformanceGroup[];
}

/** Statistics of one group of resolved signals; `symbol` or `timeframe` is `*` for a roll-up. */
export interface PerformanceGroup {
  /** Model name, or `ensemble` for published signals as a whole. */
  model: string;
  isShadow: boolean;
  symbol: string;
  timeframe: string;
  signals: number;
  open: number;
  wins: number;
  losses: number;
  expired: number;
  winRate: number;
  profitFactor: number;
  averageR: number;
  maxDrawdown: number;
  brierScore?: number | null;
  calibration: CalibrationBucket[];
  /** Cumulative R after each resolved signal (bounded); only on rows over every symbol and timeframe. */
  equity?: EquityPoint[] | null;
}

/** Signals whose predicted win probability fell in [lower, upper). */
export interface CalibrationBucket {
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number;
  observedWinRate: number;
  /** Mean R of the bucket's resolved signals. */
  averageR: number;
}

/** A point of an equity curve in R. */
export interface EquityPoint {
  /** How many signals of the row had resolved at this point. */
  resolved: number;
  /** Open time of the candle that resolved it (Unix ms, market time). */
  resolvedCandleOpenTime: number;
  cumulativeR: number;
  /** Fall from the running peak of cumulative R, ≥ 0. */
  drawdown: number;
}

/** Hub method and event names (the server's `HubNames`). */
export const HubNames = {
  Path: "/hubs/signals",
  Subscribe: "Subscribe",
  Unsubscribe: "Unsubscribe",
  SubscribeCandles: "SubscribeCandles",
  UnsubscribeCandles: "UnsubscribeCandles",
  SignalEvent: "signal",
  SignalResolvedEvent: "signalResolved",
  CandleEvent: "candle",
} as const;
