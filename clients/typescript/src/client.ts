import { type ILogger, LogLevel } from "@microsoft/signalr";
import {
  type ConnectOptions,
  createSignalRConnection,
  DEFAULT_RECOVERY_RETRY_DELAYS_MS,
  foreverRetryPolicy,
  type HubConnectionLike,
  hubProtocolOf,
  hubUrlOf,
  reconnectDelays,
} from "./connection.js";
import { SignalStreamApi } from "./api.js";
import { CandleChannel, type CandleHandlers, MAX_CONCURRENT_CANDLE_READS, ReadLimiter } from "./candles.js";
import { type PositionReset, type SeqGap, type SequencerStep, SignalSequencer, type SignalSource } from "./sequencer.js";
import {
  type CandleMessage,
  HubNames,
  type Signal,
  type SignalOutcome,
  type SubscribeRequest,
  type SubscribeResult,
  type Timeframe,
  TIMEFRAMES,
} from "./types.js";
import { candleFromWire, outcomeFromWire, signalFromWire, subscribeResultFromWire } from "./wire.js";

/** The client's connection, as the application sees it. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** Which signals of a symbol a subscription wants. */
export interface SignalFilter {
  /** Only these timeframes; omitted or empty for all the server publishes. */
  timeframes?: readonly Timeframe[];
  /** Only signals with at least this confidence (0–100). */
  minConfidence?: number;
}

/** What the client tells the application about a delivered signal. */
export interface SignalInfo {
  source: SignalSource;
}

/** Callbacks of a signal subscription. */
export interface SignalHandlers {
  /** Every matching signal once, in seq order, with no gap. */
  onSignal(signal: Signal, info: SignalInfo): void;
  /**
   * Outcomes of the symbol's published signals (matching the timeframe filter), once each, in outcomeSeq order: those
   * resolved while the client was reconnecting are recovered on resume (`afterOutcomeSeq`) and come here like live ones.
   */
  onResolved?(outcome: SignalOutcome): void;
  /** A {@link SignalGapError} when the server could not recover missed signals, an {@link OutcomeGapError} when it
   * could not recover missed outcomes (to subscriptions with `onResolved`), a {@link SignalHistoryResetError} when its
   * history ends before the client's position (signals held after the new position are not the server's), a
   * {@link SubscriptionError} when it refused a re-subscribe, or a handler's own exception. The subscription stays
   * active unless it was refused. */
  onError?(error: Error): void;
}

/** A live signal subscription. */
export interface Subscription {
  /** The symbol, upper-case. */
  readonly symbol: string;
  /** The last seq of the symbol the client has processed (delivered, or filtered out); undefined before the first. */
  readonly lastSeq: number | undefined;
  /** False once unsubscribed or refused by the server. */
  readonly active: boolean;
  unsubscribe(): Promise<void>;
}

/** Options of {@link SignalStreamClient.subscribeCandles}. */
export interface CandleOptions {
  /** A {@link CandleGapError} when closed candles missed while reconnecting could not be fetched, a
   * {@link SubscriptionError} when the server refused a re-subscribe, or the handler's own exception. */
  onError?(error: Error): void;
}

/** A live candle subscription. */
export interface CandleSubscription {
  readonly symbol: string;
  readonly timeframe: Timeframe;
  unsubscribe(): Promise<void>;
}

/** Missed signals the server could not return (beyond its recovery bound, or its store was reset). */
export class SignalGapError extends Error {
  constructor(readonly gap: SeqGap) {
    super(`${gap.symbol}: signals ${gap.from}..${gap.to} were missed and could not be recovered: ${gap.reason}`);
    this.name = "SignalGapError";
  }
}

/** Outcomes missed while the client was away that the server could not return (see {@link OutcomeGapError}). */
export interface OutcomeGap {
  symbol: string;
  /** The resume point the client sent: the last outcomeSeq it had delivered. */
  afterOutcomeSeq: number;
  /** The server's newest outcomeSeq when the subscription joined: live outcomes follow it. */
  latestOutcomeSeq: number;
  /** The server's reason (past its resume limit, a node without a store, a store that kept lagging). */
  reason: string;
}

/**
 * Some outcomes of a symbol with `afterOutcomeSeq < outcomeSeq ≤ latestOutcomeSeq` were resolved while the client was
 * away and will never reach `onResolved`; the ones the server did return were delivered, in order, and live outcomes
 * follow from `latestOutcomeSeq + 1`. Which ones are missing the client cannot tell (the server returns outcomes
 * filtered, so their outcomeSeqs have holes anyway): treat every signal you hold as open that was issued before the
 * reconnect as possibly resolved.
 */
export class OutcomeGapError extends Error {
  constructor(readonly gap: OutcomeGap) {
    super(`${gap.symbol}: outcomes after outcomeSeq ${gap.afterOutcomeSeq} up to ${gap.latestOutcomeSeq} were missed and not all could be ` +
      `recovered (those recovered were delivered; live ones follow from ${gap.latestOutcomeSeq + 1}): ${gap.reason}`);
    this.name = "OutcomeGapError";
  }
}

/**
 * The server's history of a symbol ends before the client's position: its store was reset, or the position came from
 * another deployment. The subscription continues from the server's newest seq; signals the application holds with a
 * seq after {@link PositionReset.latestSeq} are not the server's and should be dropped.
 */
export class SignalHistoryResetError extends Error {
  constructor(readonly reset: PositionReset) {
    super(`${reset.symbol}: the server's signals end at seq ${reset.latestSeq}, before this client's seq ${reset.previousSeq}; ` +
      `continuing from seq ${reset.latestSeq + 1}: ${reset.reason}`);
    this.name = "SignalHistoryResetError";
  }
}

/** The server refused a subscription (unknown symbol, not entitled, a limit). */
export class SubscriptionError extends Error {
  constructor(readonly symbol: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SubscriptionError";
  }
}

/** Connects to a SignalStream server and resolves once connected; rejects when the first attempt fails. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<SignalStreamClient> {
  const client = new SignalStreamClient(url, options);
  await client.start();
  return client;
}

/**
 * One connection to the hub, shared by every subscription made through it.
 *
 * The server side of each symbol is a single unfiltered subscription: the symbol's `seq` is then contiguous on the
 * wire, so a duplicate or a hole is exact to detect, and each application subscription filters its own copy. After a
 * reconnect (SignalR's automatic one, or the client's own retry when the server closed the connection) every symbol
 * is re-subscribed with `afterSeq = lastSeq`, and the missed signals arrive before the live ones.
 */
export class SignalStreamClient {
  readonly hubUrl: string;
  private readonly connection: HubConnectionLike;
  private readonly delays: readonly number[] | undefined;
  private readonly recoveryDelays: readonly number[];
  private readonly log: ILogger;
  private readonly restApi: SignalStreamApi;
  private readonly candleReads = new ReadLimiter(MAX_CONCURRENT_CANDLE_READS);
  private readonly channels = new Map<string, SymbolChannel>();
  private readonly candleChannels = new Map<string, CandleChannel>();
  private readonly stateListeners = new Set<(state: ConnectionState, error?: Error) => void>();
  private currentState: ConnectionState = "disconnected";
  private epoch = 0; // +1 whenever the connection drops: a failure from an older epoch is the drop, not a refusal
  private closing = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, options: ConnectOptions = {}) {
    this.hubUrl = hubUrlOf(url);
    hubProtocolOf(options); // a bad protocol throws here, whatever factory builds the connection
    this.delays = reconnectDelays(options);
    this.recoveryDelays = options.recoveryRetryDelaysMs ?? DEFAULT_RECOVERY_RETRY_DELAYS_MS;
    this.log = toLogger(options.logger);
    this.restApi = new SignalStreamApi(this.hubUrl.slice(0, -HubNames.Path.length), {
      accessTokenFactory: options.accessTokenFactory,
      fetch: options.fetch,
    });
    const retryPolicy = this.delays ? foreverRetryPolicy(this.delays) : undefined;
    this.connection = (options.connectionFactory ?? createSignalRConnection)(this.hubUrl, options, retryPolicy);

    // Each message as the contract's shape, whichever protocol carried it (src/wire.ts).
    this.connection.on(HubNames.SignalEvent, (signal: Signal) => this.channels.get(normalize(signal.symbol))?.onLive(signalFromWire(signal)));
    this.connection.on(HubNames.SignalResolvedEvent, (outcome: SignalOutcome) =>
      this.channels.get(normalize(outcome.symbol))?.onResolved(outcomeFromWire(outcome)));
    this.connection.on(HubNames.CandleEvent, (candle: CandleMessage) =>
      this.candleChannels.get(candleKey(normalize(candle.symbol), candle.timeframe))?.onCandle(candleFromWire(candle)));
    this.connection.onreconnecting((error) => {
      this.epoch++;
      this.setState("reconnecting", error);
    });
    this.connection.onreconnected(() => this.onConnected());
    this.connection.onclose((error) => {
      this.epoch++;
      this.onClosed(error);
    });
  }

  /** The connection's state right now. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** Calls `listener` on every state change; returns a function that removes it. */
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Starts the connection (done by {@link connect}); rejects when the server cannot be reached. */
  async start(): Promise<void> {
    this.closing = false;
    this.setState("connecting");
    try {
      await this.connection.start();
    } catch (error) {
      this.setState("disconnected", asError(error));
      throw error;
    }
    this.onConnected();
  }

  /**
   * Subscribes to a symbol's signals. Resolves once the server accepted; the latest signal per timeframe arrives
   * first (`source: "snapshot"`), then every later one in seq order. Rejects with a {@link SubscriptionError} when
   * the server refuses.
   */
  async subscribe(symbol: string, filter: SignalFilter, handlers: SignalHandlers): Promise<Subscription> {
    const key = validateSymbol(symbol);
    const accepts = compileFilter(filter);
    if (typeof handlers?.onSignal !== "function") throw new TypeError("handlers.onSignal must be a function");
    if (this.closing) throw new Error("the client is closed");

    let channel = this.channels.get(key);
    const joiningEstablished = channel?.established === true;
    if (channel === undefined) {
      channel = new SymbolChannel(this, key);
      this.channels.set(key, channel);
    }

    const sub = new AppSubscription(this, channel, accepts, filter.timeframes, handlers);
    channel.subs.add(sub);
    if (joiningEstablished) {
      channel.replaySnapshotTo(sub);
      return sub;
    }

    const ready = channel.whenEstablished();
    channel.requestSubscribe();
    try {
      await ready;
    } catch (error) {
      sub.deactivate();
      throw error;
    }
    return sub;
  }

  /**
   * Subscribes to a candle stream's updates: in-progress ones of the current bar, and every closed candle once, in
   * openTime order. After a reconnect the closed candles sent meanwhile are fetched from `/api/candles` and delivered
   * before the live ones that follow; a stale or repeated candle is dropped.
   */
  async subscribeCandles(
    symbol: string,
    timeframe: Timeframe,
    onCandle: (candle: CandleMessage) => void,
    options: CandleOptions = {},
  ): Promise<CandleSubscription> {
    const sym = validateSymbol(symbol);
    if (!TIMEFRAMES.includes(timeframe)) {
      throw new RangeError(`'${String(timeframe)}' is not a Binance interval name; valid: ${TIMEFRAMES.join(", ")}`);
    }
    if (typeof onCandle !== "function") throw new TypeError("onCandle must be a function");
    if (options.onError !== undefined && typeof options.onError !== "function") throw new TypeError("options.onError must be a function");
    const key = candleKey(sym, timeframe);
    let channel = this.candleChannels.get(key);
    const isNew = channel === undefined;
    if (channel === undefined) {
      channel = new CandleChannel(sym, timeframe, this);
      this.candleChannels.set(key, channel);
    }
    const handlers: CandleHandlers = { onCandle, onError: options.onError };
    channel.handlers.add(handlers);
    if (isNew) {
      const epoch = this.connectionEpoch;
      try {
        await this.invoke(HubNames.SubscribeCandles, sym, timeframe);
      } catch (error) {
        if (this.refusedOn(epoch)) {
          this.candleChannels.delete(key);
          channel.close();
          throw new SubscriptionError(sym, `SubscribeCandles(${sym}, ${timeframe}) was refused: ${asError(error).message}`, { cause: error });
        }
        // Disconnected: the reconnect re-subscribes every candle stream.
      }
    }

    const owner = channel;
    let active = true;
    return {
      symbol: sym,
      timeframe,
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        owner.handlers.delete(handlers);
        if (owner.handlers.size > 0 || this.candleChannels.get(key) !== owner) return;
        this.candleChannels.delete(key);
        owner.close();
        await this.invokeIfConnected(HubNames.UnsubscribeCandles, sym, timeframe);
      },
    };
  }

  /** Stops the connection and every subscription; no reconnect follows. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const channel of this.channels.values()) channel.close(new Error("the client was closed"));
    this.channels.clear();
    for (const channel of this.candleChannels.values()) channel.close();
    this.candleChannels.clear();
    await this.connection.stop();
    this.setState("disconnected");
  }

  /** @internal */
  get isConnected(): boolean {
    return this.connection.state === "Connected";
  }

  /** @internal Changes whenever the connection drops. */
  get connectionEpoch(): number {
    return this.epoch;
  }

  /** @internal True when a failed invocation started on `epoch` was the server's answer, not the connection dropping. */
  refusedOn(epoch: number): boolean {
    return this.epoch === epoch && this.isConnected;
  }

  /** @internal */
  get recoveryRetryDelays(): readonly number[] {
    return this.recoveryDelays;
  }

  /** @internal A page of closed candles from the hub's server (the hub does not replay them), a few reads at a time. */
  readCandles(symbol: string, timeframe: Timeframe, afterOpenTime: number, limit: number): Promise<CandleMessage[]> {
    return this.candleReads.run(() => this.restApi.candles(symbol, timeframe, { afterOpenTime, limit }));
  }

  /** @internal */
  get logger(): ILogger {
    return this.log;
  }

  /** @internal */
  invoke<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.connection.invoke<T>(method, ...args);
  }

  /** @internal Drops a channel the server refused (nothing to unsubscribe). */
  forget(channel: SymbolChannel): void {
    if (this.channels.get(channel.symbol) === channel) this.channels.delete(channel.symbol);
  }

  /** @internal Called when the last subscription of a symbol leaves. */
  async release(channel: SymbolChannel): Promise<void> {
    if (this.channels.get(channel.symbol) !== channel) return;
    this.channels.delete(channel.symbol);
    channel.close(new Error("unsubscribed"));
    await this.invokeIfConnected(HubNames.Unsubscribe, channel.symbol);
  }

  private async invokeIfConnected(method: string, ...args: unknown[]): Promise<void> {
    if (!this.isConnected) return; // the server drops a connection's subscriptions with the connection itself
    try {
      await this.connection.invoke(method, ...args);
    } catch (error) {
      this.log.log(LogLevel.Warning, `${method}(${args.join(", ")}) failed: ${asError(error).message}`);
    }
  }

  private onConnected(): void {
    this.setState("connected");
    for (const channel of this.channels.values()) channel.requestSubscribe();
    for (const channel of this.candleChannels.values()) {
      // Held from before the re-subscribe: a live candle that comes first is after the ones the fetch returns.
      channel.beginRecovery();
      const epoch = this.connectionEpoch;
      this.invoke(HubNames.SubscribeCandles, channel.symbol, channel.timeframe).then(
        () => channel.recover(),
        (error: unknown) => {
          this.log.log(LogLevel.Warning, `re-subscribing candles ${channel.symbol}@${channel.timeframe} failed: ${asError(error).message}`);
          // Dropped meanwhile: the next reconnect begins again. Refused: nothing more comes live.
          if (this.refusedOn(epoch)) {
            channel.abandonRecovery(new SubscriptionError(channel.symbol,
              `SubscribeCandles(${channel.symbol}, ${channel.timeframe}) was refused: ${asError(error).message}`, { cause: error }));
          }
        });
    }
  }

  private onClosed(error: Error | undefined): void {
    if (this.closing || this.delays === undefined) {
      this.setState("disconnected", error);
      return;
    }
    // SignalR reconnects by itself after a transport failure, but not when the server closes the connection without
    // allowing it (a restart, an expired token): retry here too, forever, with the same waits.
    this.setState("reconnecting", error);
    this.scheduleRestart(0);
  }

  private scheduleRestart(attempt: number): void {
    const delays = this.delays;
    if (this.closing || delays === undefined) return;
    const wait = delays[Math.min(attempt, delays.length - 1)] ?? 0;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closing) return;
      this.connection.start().then(
        () => (this.closing ? undefined : this.onConnected()),
        (error: unknown) => {
          this.log.log(LogLevel.Information, `reconnect attempt ${attempt + 1} failed: ${asError(error).message}`);
          this.scheduleRestart(attempt + 1);
        },
      );
    }, wait);
  }

  private setState(state: ConnectionState, error?: Error): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const listener of this.stateListeners) {
      try {
        listener(state, error);
      } catch (listenerError) {
        this.log.log(LogLevel.Error, `a state listener threw: ${asError(listenerError).message}`);
      }
    }
  }
}

/**
 * The most live outcomes a symbol holds while the outcomes before them are asked for (again). Past it the answer is
 * taken as final, and the outcomes not held, all after the held ones, are asked for from the last one delivered.
 */
export const MAX_HELD_OUTCOMES = 4096;

/**
 * What the outcomes of a Subscribe answer need next: nothing; the same `afterOutcomeSeq` again after a recovery delay
 * (the server could not return them all yet); or a Subscribe from the last one delivered now (live ones past the hold
 * bound were not kept).
 */
type OutcomesNext = "none" | "retry" | "fill";

/** The server-side subscription of one symbol and the application subscriptions that share it. */
class SymbolChannel {
  readonly sequencer: SignalSequencer;
  readonly subs = new Set<AppSubscription>();
  established = false;
  private readonly latestByTimeframe = new Map<string, Signal>();
  private readonly seenOutcomes = new Set<string>();
  /** The last outcomeSeq delivered (or the server's latestOutcomeSeq when none was since): the resume point of outcomes. */
  private lastOutcomeSeq: number | undefined;
  /**
   * Live outcomes held from a resuming Subscribe until every outcome before them is delivered: while it is in flight,
   * and while the outcomes it could not all return are asked for again. They are after the server's join point, so the
   * recovered ones go first.
   */
  private heldOutcomes: SignalOutcome[] | undefined;
  /** The connection the held outcomes came on: after a drop they are dropped too (the next answer covers them). */
  private heldEpoch = 0;
  /** More live outcomes came than are held: the next answer is taken as it is, then followed by a fill. */
  private heldOverflow = false;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private inFlight = false;
  private again = false;
  private closed = false;
  private recoveryAttempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: SignalStreamClient, readonly symbol: string) {
    this.sequencer = new SignalSequencer(symbol);
  }

  whenEstablished(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Subscribes (or re-subscribes with `afterSeq`) once the current invocation, if any, completes. */
  requestSubscribe(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    void this.runSubscribe();
  }

  onLive(signal: Signal): void {
    if (!this.closed) this.apply(this.sequencer.acceptLive(signal));
  }

  onResolved(outcome: SignalOutcome): void {
    if (this.closed || outcome.isShadow) return;
    if (this.heldOutcomes !== undefined && outcome.outcomeSeq > 0) {
      // Past the bound one is not held: it comes after every held one, and a fill from the last delivered returns it.
      if (this.heldOutcomes.length < MAX_HELD_OUTCOMES) this.heldOutcomes.push(outcome);
      else this.heldOverflow = true;
      return;
    }
    this.deliverOutcome(outcome);
  }

  /** Delivers an outcome not delivered before: by outcomeSeq, or by signal id from a server that does not number them. */
  private deliverOutcome(outcome: SignalOutcome): void {
    if (outcome.outcomeSeq > 0) {
      if (this.lastOutcomeSeq !== undefined && outcome.outcomeSeq <= this.lastOutcomeSeq) return;
      this.lastOutcomeSeq = outcome.outcomeSeq;
    } else {
      if (this.seenOutcomes.has(outcome.signalId)) return;
      if (this.seenOutcomes.size >= 4096) this.seenOutcomes.clear(); // bounded; such a server never redelivers one
      this.seenOutcomes.add(outcome.signalId);
    }
    for (const sub of this.subs) sub.deliverOutcome(outcome);
  }

  /** Call before invoking `Subscribe`; returns the `afterOutcomeSeq` to send, and holds live outcomes when there is one. */
  private beginOutcomes(): number | undefined {
    const epoch = this.client.connectionEpoch;
    if (this.heldOutcomes !== undefined && this.heldEpoch !== epoch) {
      // Held on a connection that dropped since: the node this Subscribe joins may be behind that one, and delivering
      // them first would skip the outcomes before them, which that node sends live afterwards.
      this.heldOutcomes = [];
      this.heldOverflow = false;
    }
    this.heldEpoch = epoch;
    if (this.lastOutcomeSeq !== undefined) this.heldOutcomes ??= [];
    return this.lastOutcomeSeq;
  }

  /**
   * The outcomes a Subscribe returned and the live ones held meanwhile, each once, in outcomeSeq order. When the server
   * could not return every outcome after `afterOutcomeSeq` and it is worth asking again with the same one (not `final`,
   * the hold not full), nothing is delivered, the live ones stay held and the resume point stays. On the final answer
   * what came is delivered and the loss reported as an {@link OutcomeGapError}.
   */
  private acceptOutcomes(result: SubscribeResult, afterOutcomeSeq: number | undefined, final: boolean): OutcomesNext {
    // recovered is both, so from a server that does not say outcomesRecovered apart it is the only safe reading.
    const incomplete = afterOutcomeSeq !== undefined && !(result.outcomesRecovered ?? result.recovered);
    const reset = afterOutcomeSeq !== undefined && result.latestOutcomeSeq !== undefined && result.latestOutcomeSeq < afterOutcomeSeq;
    if (incomplete && !reset && !final && !this.heldOverflow) return "retry";

    const arrived = [...(result.outcomes ?? []), ...(this.heldOutcomes ?? [])].sort((a, b) => a.outcomeSeq - b.outcomeSeq);
    const overflowed = this.heldOverflow;
    this.heldOutcomes = undefined;
    this.heldOverflow = false;
    if (reset) {
      // The server's outcomes end before this client's position (its store was reset): continue from its position.
      this.lastOutcomeSeq = result.latestOutcomeSeq;
    }
    for (const outcome of arrived) this.deliverOutcome(outcome);
    if (result.latestOutcomeSeq !== undefined && (this.lastOutcomeSeq === undefined || this.lastOutcomeSeq < result.latestOutcomeSeq)) {
      // Nothing after latestOutcomeSeq was sent on this connection; what came before was delivered already, not asked
      // for, or is reported missing below.
      this.lastOutcomeSeq = result.latestOutcomeSeq;
    }
    if (incomplete && !reset) {
      this.failOutcomes(new OutcomeGapError({
        symbol: this.symbol,
        afterOutcomeSeq: afterOutcomeSeq!,
        latestOutcomeSeq: result.latestOutcomeSeq,
        reason: result.reason ?? "the server could not recover these outcomes",
      }));
    }
    return overflowed ? "fill" : "none";
  }

  private failOutcomes(error: OutcomeGapError): void {
    this.client.logger.log(LogLevel.Warning, error.message);
    for (const sub of this.subs) {
      if (sub.wantsOutcomes) sub.fail(error);
    }
  }

  replaySnapshotTo(sub: AppSubscription): void {
    const snapshot = [...this.latestByTimeframe.values()].sort((a, b) => a.seq - b.seq);
    for (const signal of snapshot) sub.deliver(signal, "snapshot");
  }

  close(error: Error): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    for (const sub of this.subs) sub.deactivate();
    this.subs.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  private async runSubscribe(): Promise<void> {
    this.inFlight = true;
    try {
      do {
        this.again = false;
        if (this.closed || !this.client.isConnected) return; // the next (re)connect calls requestSubscribe again
        const afterSeq = this.sequencer.beginSubscribe();
        const afterOutcomeSeq = this.beginOutcomes();
        const request: SubscribeRequest = afterSeq === undefined ? { symbol: this.symbol } : { symbol: this.symbol, afterSeq };
        if (afterOutcomeSeq !== undefined) request.afterOutcomeSeq = afterOutcomeSeq;
        let result: SubscribeResult;
        const epoch = this.client.connectionEpoch;
        try {
          result = subscribeResultFromWire(await this.client.invoke<SubscribeResult>(HubNames.Subscribe, request));
        } catch (error) {
          // Held outcomes stay held: the outcomes before them are still missing, and the next Subscribe asks for them.
          this.apply(this.sequencer.abortSubscribe());
          if (!this.client.refusedOn(epoch) || this.closed) return;
          const retries = this.client.recoveryRetryDelays;
          if (isHistoryUnavailable(error) && this.recoveryAttempts < retries.length) {
            // The server could not read its signal store in time: not a refusal, ask again.
            this.retryLater(retries[this.recoveryAttempts++] ?? 0, asError(error).message);
          } else {
            this.refuse(error);
          }
          return;
        }
        if (this.closed) return;
        this.established = true;
        // One retry for both: the next Subscribe carries each resume point as far as it got, so the signals are not asked
        // for again when only the outcomes fell short, nor the other way round.
        const retries = this.client.recoveryRetryDelays;
        const final = this.recoveryAttempts >= retries.length;
        const step = this.sequencer.acceptResult(result, afterSeq, final);
        this.apply(step);
        const outcomes = this.acceptOutcomes(result, afterOutcomeSeq, final);
        if (step.needsRetry || outcomes === "retry") {
          const what = [step.needsRetry ? `after seq ${afterSeq}` : "", outcomes === "retry" ? `after outcomeSeq ${afterOutcomeSeq}` : ""].filter((w) => w !== "");
          this.retryLater(retries[this.recoveryAttempts++] ?? 0, `not everything ${what.join(" and ")} was recoverable yet (${result.reason ?? "no reason given"})`);
        } else {
          this.recoveryAttempts = 0;
        }
        if (outcomes === "fill") this.requestSubscribe();
        const waiters = this.waiters;
        this.waiters = [];
        for (const waiter of waiters) waiter.resolve();
      } while (this.again);
    } finally {
      this.inFlight = false;
    }
  }

  private retryLater(wait: number, why: string): void {
    this.client.logger.log(LogLevel.Information, `${this.symbol}: ${why}; asking again in ${wait} ms`);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestSubscribe();
    }, wait);
  }

  private refuse(error: unknown): void {
    const refusal = new SubscriptionError(this.symbol, `Subscribe(${this.symbol}) was refused: ${asError(error).message}`, { cause: error });
    const waiters = this.waiters;
    const subs = [...this.subs];
    this.waiters = [];
    this.closed = true;
    this.subs.clear();
    this.client.forget(this);
    for (const sub of subs) sub.deactivate();
    // Waiting subscribe() calls reject; subscriptions that were already live (a refused re-subscribe) hear it here.
    for (const waiter of waiters) waiter.reject(refusal);
    if (waiters.length === 0) for (const sub of subs) sub.fail(refusal);
  }

  private apply(step: SequencerStep): void {
    for (const { signal, source } of step.deliveries) {
      const previous = this.latestByTimeframe.get(signal.timeframe);
      if (previous === undefined || previous.seq < signal.seq) this.latestByTimeframe.set(signal.timeframe, signal);
      for (const sub of this.subs) sub.deliver(signal, source);
    }
    if (step.reset !== undefined) {
      const reset = new SignalHistoryResetError(step.reset);
      for (const [timeframe, signal] of this.latestByTimeframe) {
        if (signal.seq > step.reset.latestSeq) this.latestByTimeframe.delete(timeframe);
      }
      this.client.logger.log(LogLevel.Warning, reset.message);
      for (const sub of this.subs) sub.fail(reset);
    }
    for (const gap of step.gaps) {
      this.client.logger.log(LogLevel.Warning, new SignalGapError(gap).message);
      for (const sub of this.subs) sub.fail(new SignalGapError(gap));
    }
    if (step.needsFill) this.requestSubscribe();
  }
}

class AppSubscription implements Subscription {
  private isActive = true;

  constructor(
    private readonly client: SignalStreamClient,
    private readonly channel: SymbolChannel,
    private readonly accepts: (signal: Signal) => boolean,
    private readonly timeframes: readonly Timeframe[] | undefined,
    private readonly handlers: SignalHandlers,
  ) {}

  get symbol(): string {
    return this.channel.symbol;
  }

  get lastSeq(): number | undefined {
    return this.channel.sequencer.lastSeq;
  }

  get active(): boolean {
    return this.isActive;
  }

  deliver(signal: Signal, source: SignalSource): void {
    if (!this.isActive || !this.accepts(signal)) return;
    try {
      this.handlers.onSignal(signal, { source });
    } catch (error) {
      this.fail(new Error(`onSignal threw for ${signal.symbol} seq ${signal.seq}: ${asError(error).message}`, { cause: error }));
    }
  }

  /** True when this subscription takes outcomes: a loss of them concerns it. */
  get wantsOutcomes(): boolean {
    return this.isActive && this.handlers.onResolved !== undefined;
  }

  deliverOutcome(outcome: SignalOutcome): void {
    if (!this.isActive || this.handlers.onResolved === undefined) return;
    if (this.timeframes !== undefined && this.timeframes.length > 0 && !this.timeframes.includes(outcome.timeframe)) return;
    try {
      this.handlers.onResolved(outcome);
    } catch (error) {
      this.fail(new Error(`onResolved threw for ${outcome.signalId}: ${asError(error).message}`, { cause: error }));
    }
  }

  fail(error: Error): void {
    if (this.handlers.onError === undefined) {
      this.client.logger.log(LogLevel.Error, error.message);
      return;
    }
    try {
      this.handlers.onError(error);
    } catch (handlerError) {
      this.client.logger.log(LogLevel.Error, `onError threw: ${asError(handlerError).message}`);
    }
  }

  deactivate(): void {
    this.isActive = false;
  }

  async unsubscribe(): Promise<void> {
    if (!this.isActive) return;
    this.isActive = false;
    this.channel.subs.delete(this);
    if (this.channel.subs.size === 0) await this.client.release(this.channel);
  }
}

/** The hub's answer when it could not read its signal store in time (docs/hub.md): worth asking again. */
function isHistoryUnavailable(error: unknown): boolean {
  return asError(error).message.includes("signal history is unavailable");
}

function compileFilter(filter: SignalFilter | undefined): (signal: Signal) => boolean {
  const timeframes = filter?.timeframes;
  const minConfidence = filter?.minConfidence;
  if (timeframes !== undefined) {
    if (!Array.isArray(timeframes)) throw new TypeError("filter.timeframes must be an array of Binance interval names");
    const bad = timeframes.filter((tf) => !TIMEFRAMES.includes(tf));
    if (bad.length > 0) {
      throw new RangeError(`filter.timeframes: ${bad.map((b) => `'${String(b)}'`).join(", ")} not Binance interval names; valid: ${TIMEFRAMES.join(", ")}`);
    }
  }
  if (minConfidence !== undefined && !(minConfidence >= 0 && minConfidence <= 100)) {
    throw new RangeError(`filter.minConfidence must be between 0 and 100, not ${String(minConfidence)}`);
  }
  const wanted = timeframes !== undefined && timeframes.length > 0 ? new Set<string>(timeframes) : undefined;
  const floor = minConfidence ?? 0;
  return (signal) => (wanted === undefined || wanted.has(signal.timeframe)) && signal.confidence >= floor;
}

function validateSymbol(symbol: string): string {
  if (typeof symbol !== "string" || !/^[A-Za-z0-9]{1,32}$/.test(symbol)) {
    throw new TypeError(`'${String(symbol)}' is not a symbol: expected letters and digits, for example BTCUSDT`);
  }
  return normalize(symbol);
}

function normalize(symbol: string): string {
  return symbol.toUpperCase();
}

function candleKey(symbol: string, timeframe: string): string {
  return `${symbol}@${timeframe}`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function toLogger(logger: ILogger | LogLevel | undefined): ILogger {
  if (logger !== undefined && typeof logger === "object") return logger;
  const minimum = logger ?? LogLevel.Warning;
  return {
    log(level: LogLevel, message: string) {
      if (level < minimum || minimum === LogLevel.None) return;
      const line = `[signalstream] ${message}`;
      if (level >= LogLevel.Error) console.error(line);
      else if (level >= LogLevel.Warning) console.warn(line);
      else console.info(line);
    },
  };
}
