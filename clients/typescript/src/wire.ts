/**
 * The hub's messages as the application gets them, whichever protocol carried them.
 *
 * Over JSON they arrive as the contract says. Over MessagePack (`protocol: "msgpack"`) the server writes the same keys
 * and values with two differences (docs/hub.md, "MessagePack"): a price or volume (a C# decimal) is a string holding
 * the exact number, and a field JSON leaves out when it is null or false (`reason`, `isShadow` of a model vote) is
 * written. These functions give both the JSON shape: prices become the same numbers `JSON.parse` gives for those digits,
 * and the left-out fields are left out. Integers (seq, Unix ms times) arrive as numbers either way. On a JSON message
 * they change nothing.
 */
import type { CandleMessage, ModelVote, Signal, SignalOutcome, SubscribeResult } from "./types.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A decimal the server sent as a string (MessagePack) or a number (JSON), as the number. */
function price(value: unknown, field: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const parsed = Number(value);
    if (value.trim() !== "" && Number.isFinite(parsed)) return parsed;
  }
  throw new TypeError(`${field} is ${JSON.stringify(value)}; the server sends a price as a number (JSON) or a decimal string (MessagePack)`);
}

function models(votes: ModelVote[] | undefined): void {
  for (const vote of votes ?? []) {
    if ((vote as Mutable<ModelVote>).isShadow === false) delete (vote as Mutable<ModelVote>).isShadow;
  }
}

export function signalFromWire(signal: Signal): Signal {
  signal.entry = price(signal.entry, "signal.entry");
  signal.target = price(signal.target, "signal.target");
  signal.stop = price(signal.stop, "signal.stop");
  models(signal.models);
  return signal;
}

export function outcomeFromWire(outcome: SignalOutcome): SignalOutcome {
  outcome.entry = price(outcome.entry, "outcome.entry");
  outcome.exitPrice = price(outcome.exitPrice, "outcome.exitPrice");
  models(outcome.models);
  return outcome;
}

export function candleFromWire(candle: CandleMessage): CandleMessage {
  candle.open = price(candle.open, "candle.open");
  candle.high = price(candle.high, "candle.high");
  candle.low = price(candle.low, "candle.low");
  candle.close = price(candle.close, "candle.close");
  candle.volume = price(candle.volume, "candle.volume");
  return candle;
}

export function subscribeResultFromWire(result: SubscribeResult): SubscribeResult {
  if (result.reason === null) delete result.reason;
  for (const signal of result.signals ?? []) signalFromWire(signal);
  for (const outcome of result.outcomes ?? []) outcomeFromWire(outcome);
  return result;
}
