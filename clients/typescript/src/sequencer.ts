import type { Signal, SubscribeResult } from "./types.js";

/** How a signal reached the application. */
export type SignalSource =
  /** The latest signal per timeframe, returned by the first subscribe (older than the live stream). */
  | "snapshot"
  /** Missed while disconnected or lost in a hole, recovered from the server's store with `afterSeq`. */
  | "recovered"
  /** Pushed live. */
  | "live";

/** A signal released to the application, in seq order. */
export interface Delivery {
  signal: Signal;
  source: SignalSource;
}

/** Seqs the server could not return: the application will never see these signals. */
export interface SeqGap {
  symbol: string;
  /** First missing seq. */
  from: number;
  /** Last missing seq (inclusive). */
  to: number;
  reason: string;
}

/**
 * The server's history ends before the client's position: its store was reset, or the position is from another
 * deployment. The client's position becomes the server's `latestSeq`; signals after it follow, numbered anew.
 */
export interface PositionReset {
  symbol: string;
  /** The client's last seq before the reset. */
  previousSeq: number;
  /** The server's newest seq: the client's position from now on. */
  latestSeq: number;
  reason: string;
}

/** What one step of the sequencer produced. */
export interface SequencerStep {
  deliveries: Delivery[];
  gaps: SeqGap[];
  /** Set when the server's history ends before the client's position (see {@link PositionReset}). */
  reset?: PositionReset;
  /** True when a later seq arrived before an earlier one: re-subscribe with `afterSeq = lastSeq` to fill the hole. */
  needsFill: boolean;
  /** True when the server could not return everything yet (`recovered: false`): retry the same `afterSeq` later. */
  needsRetry?: boolean;
}

/** The most live signals held back while a hole is being filled; past it they are dropped and refetched by the fill. */
export const MAX_PENDING = 10_000;

/**
 * Orders one symbol's signals for the application: no gap, no duplicate, seq order.
 *
 * The server's per-symbol `seq` is contiguous from 1, so `lastSeq + 1` is always the next signal to release. Live
 * signals that arrive while a subscribe is in flight, or ahead of a hole, wait in `pending`; a subscribe result
 * (the first one, a resume after reconnect, or a hole fill) is authoritative for every seq up to its `latestSeq`.
 * Pure logic, no I/O: the client feeds it and acts on `needsFill`.
 */
export class SignalSequencer {
  private readonly pending = new Map<number, Delivery>();
  private awaiting = false;
  private last: number | undefined;

  constructor(readonly symbol: string) {}

  /** The last seq released (or skipped as unrecoverable); undefined before the first subscribe result. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  /** Live signals held back right now. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Call before invoking `Subscribe`; returns the `afterSeq` to send (undefined for a first subscribe). */
  beginSubscribe(): number | undefined {
    this.awaiting = true;
    return this.last;
  }

  /** Call when a `Subscribe` invocation failed: live signals are released again as far as they are contiguous. */
  abortSubscribe(): SequencerStep {
    this.awaiting = false;
    return this.drain([], []);
  }

  /** Feeds a live `signal` event. */
  acceptLive(signal: Signal): SequencerStep {
    if (this.last !== undefined && signal.seq <= this.last) {
      return empty(); // a duplicate: already released, or older than what the subscribe result covered
    }

    if (this.pending.size < MAX_PENDING) {
      this.pending.set(signal.seq, { signal, source: "live" });
    }

    return this.awaiting || this.last === undefined ? empty() : this.drain([], []);
  }

  /**
   * Feeds the result of the `Subscribe` that {@link beginSubscribe} prepared, with the `afterSeq` it sent.
   *
   * A result whose signals were not all recovered (`signalsRecovered: false`, or `recovered: false` from a server without
   * it: the server's store lags behind, or more was missed than it returns at once) is
   * released only as far as it is contiguous, and the step asks for a retry; with `final` set (retries exhausted)
   * the missing seqs are reported as gaps and skipped instead.
   */
  acceptResult(result: SubscribeResult, afterSeq: number | undefined, final = true): SequencerStep {
    this.awaiting = false;
    const deliveries: Delivery[] = [];
    const gaps: SeqGap[] = [];
    const returned = [...result.signals].sort((a, b) => a.seq - b.seq);

    if (afterSeq === undefined || this.last === undefined) {
      // First subscribe: the latest signal per timeframe, a snapshot rather than a contiguous run.
      for (const signal of returned) {
        deliveries.push({ signal, source: "snapshot" });
      }
      this.last = Math.max(result.latestSeq, returned.at(-1)?.seq ?? 0);
      return this.drain(deliveries, gaps);
    }

    if (result.latestSeq < this.last) {
      // Not a gap: the seqs after latestSeq will be used again, for other signals. The server says so with
      // recovered: false and a reason; an older server answered recovered: true, which means the same here.
      const reset: PositionReset = {
        symbol: this.symbol,
        previousSeq: this.last,
        latestSeq: result.latestSeq,
        reason: result.reason ?? `the server's latest seq ${result.latestSeq} is behind the client's ${this.last}: its store was reset`,
      };
      this.last = result.latestSeq;
      // Live signals held while the subscribe was in flight are the server's from latestSeq + 1 on: they stay.
      for (const seq of [...this.pending.keys()]) {
        if (seq <= this.last) this.pending.delete(seq);
      }
      return { ...this.drain(deliveries, gaps), reset };
    }

    // Everything the result returned joins what arrived live; the result is authoritative up to its latestSeq.
    for (const signal of returned) {
      if (signal.seq > this.last && this.pending.size < MAX_PENDING) this.pending.set(signal.seq, { signal, source: "recovered" });
    }
    if (!signalsRecovered(result) && !final) {
      // Release only the contiguous run and ask again for the rest (the store may simply lag behind).
      return { ...this.drain(deliveries, gaps), needsFill: false, needsRetry: true };
    }

    let expected = this.last + 1;
    while (expected <= result.latestSeq) {
      const held = this.pending.get(expected);
      if (held === undefined) {
        const next = nextHeld(this.pending, expected, result.latestSeq);
        gaps.push({ symbol: this.symbol, from: expected, to: next - 1, reason: missingReason(result) });
        expected = next;
        continue;
      }
      this.pending.delete(expected);
      deliveries.push(held);
      expected++;
    }

    this.last = expected - 1;
    return this.drain(deliveries, gaps);
  }

  private drain(deliveries: Delivery[], gaps: SeqGap[]): SequencerStep {
    if (this.last === undefined) return { deliveries, gaps, needsFill: false };
    for (const seq of this.pending.keys()) {
      if (seq <= this.last) this.pending.delete(seq);
    }
    for (let next = this.pending.get(this.last + 1); next !== undefined; next = this.pending.get(this.last + 1)) {
      this.pending.delete(next.signal.seq);
      deliveries.push(next);
      this.last = next.signal.seq;
    }
    return { deliveries, gaps, needsFill: this.pending.size > 0 && !this.awaiting };
  }
}

function empty(): SequencerStep {
  return { deliveries: [], gaps: [], needsFill: false };
}

function nextHeld(pending: Map<number, Delivery>, from: number, latest: number): number {
  let next = latest + 1;
  for (const seq of pending.keys()) {
    if (seq > from && seq < next) next = seq;
  }
  return next;
}

/**
 * Whether the result holds every signal after afterSeq. `recovered` is false too when only the outcomes fell short, so
 * it is the answer only from a server that does not say `signalsRecovered` apart.
 */
function signalsRecovered(result: SubscribeResult): boolean {
  return result.signalsRecovered ?? result.recovered;
}

function missingReason(result: SubscribeResult): string {
  return signalsRecovered(result)
    ? "the server reported full recovery but did not return these seqs"
    : (result.reason ?? "the server could not recover these signals");
}
