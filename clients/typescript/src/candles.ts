import { type ILogger, LogLevel } from "@microsoft/signalr";
import type { CandleMessage, Timeframe } from "./types.js";
import { candleFromWire } from "./wire.js";

/**
 * The most live closed candles a stream holds while the ones before them are fetched. Past it the newer ones are not
 * held: once the held ones are delivered they are fetched from `/api/candles` like the rest.
 */
export const MAX_HELD_CANDLES = 1024;

/** Closed candles asked for per `/api/candles` page while recovering (the server's maximum). */
export const CANDLE_PAGE_LIMIT = 1000;

/**
 * The most `/api/candles` reads one client has in flight: after a reconnect every candle stream reads at once, and the
 * server's per-client rate limit (`Api:RateLimit`, a burst of 40) answers the rest 429.
 */
export const MAX_CONCURRENT_CANDLE_READS = 4;

/** Closed candles of a stream missed while the client was away that it could not fetch (see {@link CandleGapError}). */
export interface CandleGap {
  symbol: string;
  timeframe: Timeframe;
  /** The last closed candle's openTime delivered before them: every closed candle after it up to the next delivered one may be missing. */
  afterOpenTime: number;
  /** Why: the `/api/candles` error after the last retry. */
  reason: string;
}

/**
 * Closed candles after {@link CandleGap.afterOpenTime} closed while the client was away and could not be fetched from
 * `/api/candles` (after `recoveryRetryDelaysMs`); the live ones that came meanwhile were delivered, so some before them
 * are missing. Page them from `api.candles(symbol, timeframe, { afterOpenTime })`.
 */
export class CandleGapError extends Error {
  constructor(readonly gap: CandleGap) {
    super(`${gap.symbol}@${gap.timeframe}: closed candles after openTime ${gap.afterOpenTime} were missed while reconnecting and could not be fetched: ${gap.reason}`);
    this.name = "CandleGapError";
  }
}

/** Callbacks of a candle subscription. */
export interface CandleHandlers {
  /** Every update of the stream: in-progress ones of the current bar, and every closed candle once, in openTime order. */
  onCandle(candle: CandleMessage): void;
  /** A {@link CandleGapError}, or the handler's own exception. */
  onError?(error: Error): void;
}

/** What a {@link CandleChannel} needs of its client. */
export interface CandleHost {
  readonly logger: ILogger;
  readonly recoveryRetryDelays: readonly number[];
  /** A page of `/api/candles`, through the client's bound on reads in flight. */
  readCandles(symbol: string, timeframe: Timeframe, afterOpenTime: number, limit: number): Promise<CandleMessage[]>;
}

/** Runs at most `limit` reads at once; the others wait their turn, in order. */
export class ReadLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(read: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over, not re-counted
    try {
      return await read();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/**
 * One candle stream of a client and the application handlers that share it.
 *
 * Live `candle` events are not replayed by the server, so after a reconnect the closed candles sent meanwhile are
 * fetched from `/api/candles` after the last one delivered, page by page, while live ones are held; then the held ones
 * follow, each closed candle once, in openTime order. A live closed candle is published before it is stored, so one sent
 * just before the re-subscribe can still be missing from the store when it is read: a held (or the first live) closed
 * candle beyond the next expected one is taken as that, and the store asked again after each recovery delay; after the
 * last one the hole is the exchange's (an outage) and the candle is delivered.
 */
export class CandleChannel {
  readonly handlers = new Set<CandleHandlers>();
  private lastClosedOpenTime = Number.NEGATIVE_INFINITY;
  /** The bar of the first in-progress update delivered before any closed candle: its close is owed. */
  private firstProgressOpenTime: number | undefined;
  private recovering = false;
  /** +1 per recovery: one that was overtaken (a new reconnect, closed) stops at its next await. */
  private generation = 0;
  private held: CandleMessage[] = [];
  private heldOverflow = false;
  /** Only the newest in-progress update is worth keeping: it replaces the previous one of the bar. */
  private heldProgress: CandleMessage | undefined;
  /** After a recovery that saw no live closed candle, the first one is checked against the store once. */
  private verifyNextClosed = false;
  private closed = false;
  private retryWake: (() => void) | undefined;

  constructor(readonly symbol: string, readonly timeframe: Timeframe, private readonly host: CandleHost) {}

  /** Call before re-subscribing after a reconnect: live candles are held until the missed ones are fetched. */
  beginRecovery(): void {
    if (this.closed || this.resumeAfter() === undefined) return; // nothing delivered yet: nothing can be owed
    this.recovering = true;
    this.generation++;
    this.verifyNextClosed = false;
    this.retryWake?.();
  }

  /** The re-subscribe was accepted: fetch what was missed. */
  recover(): void {
    if (this.recovering && !this.closed) void this.run(this.generation);
  }

  /** The re-subscribe was refused: nothing more comes live, so what is held is delivered and the refusal reported. */
  abandonRecovery(error: Error): void {
    if (!this.recovering) return;
    this.generation++;
    this.finish();
    this.fail(error);
  }

  close(): void {
    this.closed = true;
    this.generation++;
    this.retryWake?.();
    this.handlers.clear();
  }

  onCandle(candle: CandleMessage): void {
    if (this.closed) return;
    if (this.recovering) {
      this.hold(candle);
      return;
    }
    if (candle.isClosed && this.verifyNextClosed && candle.openTime > this.lastClosedOpenTime) {
      this.verifyNextClosed = false;
      if (candle.openTime > this.expectedNextClosed()!) {
        // Closed before the re-subscribe, it was not sent here, and it was not stored yet when the recovery read.
        this.recovering = true;
        this.hold(candle);
        void this.run(++this.generation);
        return;
      }
    }
    this.deliver(candle);
  }

  private hold(candle: CandleMessage): void {
    if (!candle.isClosed) {
      this.heldProgress = candle;
      return;
    }
    if (this.held.length < MAX_HELD_CANDLES) this.held.push(candle);
    else this.heldOverflow = true; // newer than every held one: fetched once those are delivered
  }

  private async run(generation: number): Promise<void> {
    const delays = this.host.recoveryRetryDelays;
    let attempt = 0;
    for (;;) {
      const after = this.resumeAfter()!;
      let page: CandleMessage[];
      try {
        page = await this.host.readCandles(this.symbol, this.timeframe, after, CANDLE_PAGE_LIMIT);
      } catch (error) {
        if (generation !== this.generation) return;
        const reason = error instanceof Error ? error.message : String(error);
        if (attempt < delays.length) {
          this.host.logger.log(LogLevel.Information, `${this.symbol}@${this.timeframe}: fetching closed candles after ${after} failed (${reason}); asking again`);
          if (!(await this.wait(delays[attempt++] ?? 0, generation))) return;
          continue;
        }
        this.finish();
        this.fail(new CandleGapError({ symbol: this.symbol, timeframe: this.timeframe, afterOpenTime: after, reason }));
        return;
      }
      if (generation !== this.generation) return;
      for (const candle of page) this.deliver(candleFromWire({ ...candle, isClosed: true }));
      const last = page[page.length - 1];
      if (page.length >= CANDLE_PAGE_LIMIT && last !== undefined && last.openTime > after) continue;

      // The store's end. A held closed candle past the next expected one: the one before it may not be stored yet.
      const first = this.held.find((c) => c.openTime > this.lastClosedOpenTime);
      if (first !== undefined && first.openTime > this.expectedNextClosed()! && attempt < delays.length) {
        if (!(await this.wait(delays[attempt++] ?? 0, generation))) return;
        continue;
      }
      const overflowed = this.heldOverflow;
      const sawLiveClose = this.held.length > 0 || overflowed;
      this.deliverHeld();
      if (overflowed) {
        attempt = 0;
        continue;
      }
      this.finish();
      this.verifyNextClosed = !sawLiveClose;
      return;
    }
  }

  /** Delivers what is held and returns to live delivery. */
  private finish(): void {
    this.deliverHeld();
    this.recovering = false;
    const progress = this.heldProgress;
    this.heldProgress = undefined;
    if (progress !== undefined) this.deliver(progress);
  }

  private deliverHeld(): void {
    const held = this.held.sort((a, b) => a.openTime - b.openTime);
    this.held = [];
    this.heldOverflow = false;
    for (const candle of held) this.deliver(candle);
  }

  /** Resolves true after `ms`, or false at once when the recovery was overtaken meanwhile. */
  private wait(ms: number, generation: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryWake = undefined;
        resolve(generation === this.generation);
      }, ms);
      this.retryWake = () => {
        clearTimeout(timer);
        this.retryWake = undefined;
        resolve(false);
      };
    });
  }

  /** Every closed candle after this openTime is owed to the application; undefined before anything was delivered. */
  private resumeAfter(): number | undefined {
    if (Number.isFinite(this.lastClosedOpenTime)) return this.lastClosedOpenTime;
    return this.firstProgressOpenTime === undefined ? undefined : this.firstProgressOpenTime - 1;
  }

  /** The openTime the next closed candle has when none is missing. */
  private expectedNextClosed(): number | undefined {
    if (Number.isFinite(this.lastClosedOpenTime)) return nextOpenTime(this.timeframe, this.lastClosedOpenTime);
    return this.firstProgressOpenTime;
  }

  private deliver(candle: CandleMessage): void {
    // A candle at or before the last closed one is stale (an in-progress update that lost the race) or repeated.
    if (candle.openTime <= this.lastClosedOpenTime) return;
    if (candle.isClosed) this.lastClosedOpenTime = candle.openTime;
    else this.firstProgressOpenTime ??= candle.openTime;
    for (const handlers of this.handlers) {
      try {
        handlers.onCandle(candle);
      } catch (error) {
        this.failOne(handlers, new Error(`onCandle threw for ${this.symbol}@${this.timeframe}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      }
    }
  }

  private fail(error: Error): void {
    this.host.logger.log(LogLevel.Warning, error.message);
    for (const handlers of this.handlers) this.failOne(handlers, error);
  }

  private failOne(handlers: CandleHandlers, error: Error): void {
    if (handlers.onError === undefined) {
      this.host.logger.log(LogLevel.Error, error.message);
      return;
    }
    try {
      handlers.onError(error);
    } catch (handlerError) {
      this.host.logger.log(LogLevel.Error, `onError threw: ${handlerError instanceof Error ? handlerError.message : String(handlerError)}`);
    }
  }
}

const MINUTE = 60_000;
const FIXED_MS: Record<Exclude<Timeframe, "1M">, number> = {
  "1s": 1_000, "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
  "1h": 60 * MINUTE, "2h": 120 * MINUTE, "4h": 240 * MINUTE, "6h": 360 * MINUTE, "8h": 480 * MINUTE, "12h": 720 * MINUTE,
  "1d": 1_440 * MINUTE, "3d": 4_320 * MINUTE, "1w": 10_080 * MINUTE,
};

/** The open time of the bar after the one opening at `openTime` (a month is a calendar month, UTC). */
export function nextOpenTime(timeframe: Timeframe, openTime: number): number {
  if (timeframe !== "1M") return openTime + FIXED_MS[timeframe];
  const date = new Date(openTime);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}
