import type { HubConnectionLike } from "../../src/connection.js";
import type { CandleMessage, Signal, SignalOutcome, SubscribeRequest, SubscribeResult, Timeframe } from "../../src/types.js";

type State = "Disconnected" | "Connecting" | "Connected" | "Reconnecting";

/** A hub in memory that follows the contract: contiguous seq per symbol, afterSeq recovery, a latest-per-timeframe snapshot. */
export class FakeServer {
  readonly stored = new Map<string, Signal[]>();
  /** Outcomes per symbol; outcomeSeq is the index + 1. Absent: the server answers as one without outcomeSeq did. */
  readonly outcomes = new Map<string, SignalOutcome[]>();
  accepting = true;
  /** At most this many signals come back from an afterSeq recovery; beyond it `recovered` is false. */
  recoveryLimit = 1_000;
  /** The next this-many resumes answer as a lagging store would: only the first missed signal, `recovered: false`. */
  laggingResumes = 0;
  /** At most this many outcomes come back from an afterOutcomeSeq recovery (the newest); beyond it `outcomesRecovered` is false. */
  outcomeRecoveryLimit = 1_000;
  /** The next this-many resumes that missed outcomes answer as a lagging store would: only the first, `outcomesRecovered: false`. */
  laggingOutcomeResumes = 0;
  /** Answer as a server before `signalsRecovered`/`outcomesRecovered`: `recovered` only. */
  recoveredOnly = false;
  /** Symbols the server refuses. */
  refused = new Set<string>();
  /** The next this-many Subscribe calls fail as when the server cannot read its signal store in time. */
  unavailableSubscribes = 0;
  readonly connections: FakeConnection[] = [];
  /** Closed candles per stream (`BTCUSDT@1m`), in openTime order, as `/api/candles` reads them. */
  readonly candles = new Map<string, CandleMessage[]>();
  /** The newest this-many stored closed candles of a stream are not readable yet (published live, not stored yet). */
  unstoredCandles = 0;
  /** The next this-many `/api/candles` reads answer 503, as when the store does not answer in time. */
  unavailableCandleReads = 0;
  /** While set, `/api/candles` reads wait for it. */
  candleReadGate: Promise<void> | undefined;
  /** Runs before each `/api/candles` read is answered. */
  beforeCandleRead: (() => void) | undefined;
  /** The `afterOpenTime` of each `/api/candles` read, in order. */
  readonly candleReads: number[] = [];
  /** `/api/candles` reads being answered now, and the most there were at once. */
  candleReadsInFlight = 0;
  maxCandleReadsInFlight = 0;

  /** A candle update: pushed live to the connections subscribed to its stream; a closed one is stored too. */
  candle(symbol: string, timeframe: Timeframe, openTime: number, isClosed: boolean): CandleMessage {
    const candle: CandleMessage = {
      symbol, timeframe, openTime, closeTime: openTime + 59_999, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, isClosed,
    };
    if (isClosed) {
      const key = `${symbol}@${timeframe}`;
      this.candles.set(key, [...(this.candles.get(key) ?? []), candle]);
    }
    for (const connection of this.connections) connection.pushCandle(candle);
    return candle;
  }

  /** `fetch` for the client's own REST reads: `/api/candles` as the hub answers it. */
  readonly fetch: typeof fetch = async (input: RequestInfo | URL) => {
    const url = new URL(String(input));
    if (url.pathname !== "/api/candles") return new Response("", { status: 404 });
    const after = Number(url.searchParams.get("afterOpenTime") ?? "0");
    const limit = Number(url.searchParams.get("limit") ?? "100");
    this.candleReads.push(after);
    this.maxCandleReadsInFlight = Math.max(this.maxCandleReadsInFlight, ++this.candleReadsInFlight);
    try {
      await this.candleReadGate;
    } finally {
      this.candleReadsInFlight--;
    }
    this.beforeCandleRead?.();
    if (this.unavailableCandleReads > 0) {
      this.unavailableCandleReads--;
      const problem = { title: "Signal history unavailable", status: 503, detail: "signal history is unavailable: the signal store did not answer within 5 s; retry in a few seconds." };
      return new Response(JSON.stringify(problem), { status: 503, headers: { "content-type": "application/problem+json" } });
    }
    const stored = this.candles.get(`${url.searchParams.get("symbol")}@${url.searchParams.get("timeframe")}`) ?? [];
    const readable = stored.slice(0, Math.max(0, stored.length - this.unstoredCandles));
    const page = readable.filter((c) => c.openTime > after).slice(0, limit);
    return new Response(JSON.stringify(page), { status: 200, headers: { "content-type": "application/json" } });
  };

  publish(symbol: string, overrides: Partial<Signal> = {}): Signal {
    const list = this.stored.get(symbol) ?? [];
    this.stored.set(symbol, list);
    const signal = makeSignal(symbol, list.length + 1, overrides);
    list.push(signal);
    for (const connection of this.connections) connection.push(signal);
    return signal;
  }

  /** Resolves a stored signal (a win): the next outcomeSeq of its symbol, pushed live to subscribed connections. */
  resolve(symbol: string, signalSeq: number): SignalOutcome {
    const list = this.outcomes.get(symbol) ?? [];
    this.outcomes.set(symbol, list);
    const outcome: SignalOutcome = {
      signalId: `${symbol}-${signalSeq}`, outcomeSeq: list.length + 1, signalSeq, symbol, timeframe: "1h", direction: "long", outcome: "win",
      entry: 1, exitPrice: 2, rMultiple: 1, resolvedCandleOpenTime: 0, resolvedAt: 0, reason: "target", models: [], isShadow: false, source: "ensemble",
    };
    list.push(outcome);
    for (const connection of this.connections) connection.pushOutcome(outcome);
    return outcome;
  }

  /** What a Subscribe answers about outcomes: the latest outcomeSeq and those after afterOutcomeSeq, as the hub bounds them. */
  private outcomesFor(symbol: string, request: SubscribeRequest): Partial<SubscribeResult> {
    const list = this.outcomes.get(symbol);
    if (list === undefined) return {};
    const after = request.afterOutcomeSeq;
    if (after === undefined || after === null) return { latestOutcomeSeq: list.length, outcomes: [], outcomesRecovered: true };
    if (after > list.length) {
      return {
        latestOutcomeSeq: list.length, outcomes: [], outcomesRecovered: false,
        reason: `afterOutcomeSeq ${after} is beyond the newest ${symbol} outcome (outcomeSeq ${list.length}): the signal store was reset`,
      };
    }
    let outcomes = list.filter((o) => o.outcomeSeq > after);
    if (this.laggingOutcomeResumes > 0 && outcomes.length > 1) {
      this.laggingOutcomeResumes--;
      return {
        latestOutcomeSeq: list.length, outcomes: outcomes.slice(0, 1), outcomesRecovered: false,
        reason: `The signal store does not have ${symbol} outcomeSeq ${after + 2} yet; retry Subscribe with the same afterOutcomeSeq.`,
      };
    }
    if (outcomes.length > this.outcomeRecoveryLimit) {
      const missed = outcomes.length;
      outcomes = outcomes.slice(missed - this.outcomeRecoveryLimit);
      return {
        latestOutcomeSeq: list.length, outcomes, outcomesRecovered: false,
        reason: `${missed} outcomes of ${symbol} were missed after outcomeSeq ${after}, more than the resume limit of ${this.outcomeRecoveryLimit}; these are the newest ${this.outcomeRecoveryLimit}.`,
      };
    }
    return { latestOutcomeSeq: list.length, outcomes, outcomesRecovered: true };
  }

  /** The signals' part and the outcomes' part of a Subscribe result joined as the hub joins them. */
  private answer(symbol: string, request: SubscribeRequest, signalPart: { latestSeq: number; recovered: boolean; signals: Signal[]; reason?: string }): SubscribeResult {
    const outcomePart = this.outcomesFor(symbol, request);
    const outcomesRecovered = outcomePart.outcomesRecovered ?? true;
    const reasons = [signalPart.reason, outcomePart.reason].filter((r) => r !== undefined && r !== null);
    const result = {
      symbol, timeframes: ["1m", "5m", "15m", "1h"], ...outcomePart, latestSeq: signalPart.latestSeq, signals: signalPart.signals,
      recovered: signalPart.recovered && outcomesRecovered, reason: reasons.length > 0 ? reasons.join(" ") : undefined,
      signalsRecovered: signalPart.recovered, outcomesRecovered,
    } as SubscribeResult;
    if (this.recoveredOnly || this.outcomes.get(symbol) === undefined) {
      delete (result as Partial<SubscribeResult>).signalsRecovered;
      delete (result as Partial<SubscribeResult>).outcomesRecovered;
    }
    return result;
  }

  latestSeq(symbol: string): number {
    return this.stored.get(symbol)?.length ?? 0;
  }

  /** The store was reset (or replaced): the symbol's seq starts again at 1. */
  resetStore(symbol: string): void {
    this.stored.delete(symbol);
  }

  subscribe(request: SubscribeRequest): SubscribeResult {
    const symbol = request.symbol.toUpperCase();
    if (this.refused.has(symbol)) throw new Error(`'${symbol}' is not a configured symbol`);
    if (this.unavailableSubscribes > 0) {
      this.unavailableSubscribes--;
      throw new Error("An unexpected error occurred invoking 'Subscribe' on the server. HubException: signal history is unavailable: " +
        "the signal store did not answer within 5 s; retry in a few seconds.");
    }
    const list = this.stored.get(symbol) ?? [];
    let signals: Signal[];
    let recovered = true;
    let reason: string | undefined;
    if (request.afterSeq === undefined || request.afterSeq === null) {
      const latest = new Map<string, Signal>();
      for (const s of list) latest.set(s.timeframe, s);
      signals = [...latest.values()].sort((a, b) => a.seq - b.seq);
    } else {
      const after = request.afterSeq;
      if (after > list.length) {
        // Beyond the newest seq, as the hub answers it: not recovered, the position is the newest, live from the next.
        return this.answer(symbol, request, {
          latestSeq: list.length, recovered: false, signals: [],
          reason: `afterSeq ${after} is beyond the newest ${symbol} signal (seq ${list.length}): the signal store was reset`,
        });
      }
      signals = list.filter((s) => s.seq > after);
      if (this.laggingResumes > 0 && signals.length > 1) {
        this.laggingResumes--;
        return this.answer(symbol, request, {
          latestSeq: list.length, recovered: false, signals: signals.slice(0, 1),
          reason: `The signal store does not have ${symbol} seq ${after + 2} yet; retry Subscribe with the same afterSeq.`,
        });
      }
      if (signals.length > this.recoveryLimit) {
        signals = signals.slice(signals.length - this.recoveryLimit);
        recovered = false;
        reason = `more than ${this.recoveryLimit} signals were missed`;
      }
    }
    return this.answer(symbol, request, { latestSeq: list.length, recovered, signals, reason });
  }
}

/** A `HubConnectionLike` wired to a {@link FakeServer}, with knobs to drop, duplicate, reorder and disconnect. */
export class FakeConnection implements HubConnectionLike {
  state: State = "Disconnected";
  readonly invocations: Array<{ method: string; args: unknown[] }> = [];
  readonly subscribed = new Set<string>();
  readonly candleStreams = new Set<string>();
  /** Live signals of these seqs are lost on the way (a network or fan-out hole). */
  readonly lose = new Set<number>();
  /** Live signals of these seqs are sent twice. */
  readonly duplicate = new Set<number>();
  /** Runs between computing a Subscribe result and returning it: live signals sent here race the result. */
  beforeSubscribeReturns: ((request: SubscribeRequest) => void) | undefined;
  private readonly handlers = new Map<string, Array<(...args: any[]) => void>>();
  private readonly closeCallbacks: Array<(error?: Error) => void> = [];
  private readonly reconnectingCallbacks: Array<(error?: Error) => void> = [];
  private readonly reconnectedCallbacks: Array<(id?: string) => void> = [];
  private pending: Array<(error: Error) => void> = [];

  constructor(private readonly server: FakeServer) {
    server.connections.push(this);
  }

  async start(): Promise<void> {
    if (this.state !== "Disconnected") throw new Error(`cannot start a connection in state ${this.state}`);
    if (!this.server.accepting) throw new Error("connection refused");
    this.state = "Connected";
  }

  async stop(): Promise<void> {
    this.goDown("Disconnected");
    for (const cb of this.closeCallbacks) cb();
  }

  async invoke<T>(method: string, ...args: unknown[]): Promise<T> {
    this.invocations.push({ method, args });
    if (this.state !== "Connected") throw new Error("Cannot send data if the connection is not in the 'Connected' State.");
    return new Promise<T>((resolve, reject) => {
      this.pending.push(reject);
      // Answer on a later task, as a real server round trip would.
      setTimeout(() => {
        if (this.state !== "Connected") return; // rejected by goDown
        try {
          resolve(this.handle(method, args) as T);
        } catch (error) {
          reject(error);
        }
      }, 0);
    });
  }

  on(method: string, handler: (...args: any[]) => void): void {
    this.handlers.set(method, [...(this.handlers.get(method) ?? []), handler]);
  }

  onclose(callback: (error?: Error) => void): void {
    this.closeCallbacks.push(callback);
  }

  onreconnecting(callback: (error?: Error) => void): void {
    this.reconnectingCallbacks.push(callback);
  }

  onreconnected(callback: (id?: string) => void): void {
    this.reconnectedCallbacks.push(callback);
  }

  /** Delivers a live signal if this connection is subscribed to its symbol, applying the loss/duplicate knobs. */
  push(signal: Signal): void {
    if (this.state !== "Connected" || !this.subscribed.has(signal.symbol)) return;
    if (this.lose.has(signal.seq)) return;
    this.emit("signal", signal);
    if (this.duplicate.has(signal.seq)) this.emit("signal", signal);
  }

  /** Live outcomes of these outcomeSeqs are lost on the way. */
  readonly loseOutcomes = new Set<number>();

  pushOutcome(outcome: SignalOutcome): void {
    if (this.state !== "Connected" || !this.subscribed.has(outcome.symbol) || this.loseOutcomes.has(outcome.outcomeSeq)) return;
    this.emit("signalResolved", outcome);
  }

  /** Delivers a live candle update (a copy, as off the wire) if this connection is subscribed to its stream. */
  pushCandle(candle: CandleMessage): void {
    if (this.state !== "Connected" || !this.candleStreams.has(`${candle.symbol}@${candle.timeframe}`)) return;
    this.emit("candle", { ...candle });
  }

  emit(event: string, arg: Signal | SignalOutcome | CandleMessage): void {
    for (const handler of this.handlers.get(event) ?? []) handler(arg);
  }

  /** A transport failure that SignalR's automatic reconnect handles. */
  drop(): void {
    this.goDown("Reconnecting");
    for (const cb of this.reconnectingCallbacks) cb(new Error("WebSocket closed with status code 1006"));
  }

  /** SignalR's automatic reconnect succeeded. */
  reconnected(): void {
    this.state = "Connected";
    for (const cb of this.reconnectedCallbacks) cb("new-id");
  }

  /** The server closed the connection without allowing a reconnect (for example a restart). */
  serverClose(): void {
    this.goDown("Disconnected");
    for (const cb of this.closeCallbacks) cb(new Error("Server returned an error on close: restarting"));
  }

  private goDown(state: State): void {
    this.state = state;
    this.subscribed.clear();
    this.candleStreams.clear();
    const pending = this.pending;
    this.pending = [];
    for (const reject of pending) reject(new Error("Invocation canceled due to the underlying connection being closed."));
  }

  private handle(method: string, args: unknown[]): unknown {
    switch (method) {
      case "Subscribe": {
        const request = args[0] as SubscribeRequest;
        const result = this.server.subscribe(request);
        this.subscribed.add(result.symbol);
        this.beforeSubscribeReturns?.(request);
        return result;
      }
      case "Unsubscribe":
        this.subscribed.delete(String(args[0]).toUpperCase());
        return undefined;
      case "SubscribeCandles":
        this.candleStreams.add(`${String(args[0])}@${String(args[1])}`);
        return undefined;
      case "UnsubscribeCandles":
        this.candleStreams.delete(`${String(args[0])}@${String(args[1])}`);
        return undefined;
      default:
        throw new Error(`unknown hub method ${method}`);
    }
  }
}

const timeframes: Timeframe[] = ["1m", "5m", "15m", "1h"];

export function makeSignal(symbol: string, seq: number, overrides: Partial<Signal> = {}): Signal {
  const t = 1_700_000_000_000 + seq * 60_000;
  return {
    id: `${symbol}-${seq}`,
    seq,
    symbol,
    timeframe: timeframes[seq % timeframes.length]!,
    direction: seq % 2 === 0 ? "long" : "short",
    confidence: 60 + (seq % 40),
    probabilities: { down: 0.1, flat: 0.2, up: 0.7 },
    entry: 100,
    target: 103,
    stop: 98,
    riskReward: 1.5,
    fusionScore: 70,
    models: [],
    rationale: [],
    candleOpenTime: t - 60_000,
    candleCloseTime: t - 1,
    createdAt: t,
    expiresAt: t + 3_600_000,
    exchangeTime: t,
    receivedAt: t + 1,
    publishedAt: t + 2,
    source: "ensemble",
    ...overrides,
  };
}

/** Resolves when `condition` holds, checking after every macrotask; fails after `timeoutMs` with `what`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
