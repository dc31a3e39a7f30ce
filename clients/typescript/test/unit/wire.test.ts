import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type HubMessage, type InvocationMessage, JsonHubProtocol, MessageType, NullLogger } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { describe, expect, it } from "vitest";
import { SignalStreamClient } from "../../src/index.js";
import type { CandleMessage, Signal, SignalOutcome, SubscribeResult } from "../../src/types.js";
import { candleFromWire, outcomeFromWire, signalFromWire, subscribeResultFromWire } from "../../src/wire.js";
import { FakeConnection, FakeServer } from "./fakeHub.js";

/**
 * The server's own frames of one signal, outcome and candle, in both protocols (written by the hub's HubFrames;
 * tests/SignalStream.Hub.Tests/FanOut/HubFramesTests.cs keeps the file what the server writes now).
 */
const fixture = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/hub-frames.json", import.meta.url)), "utf8")) as
  Record<string, { target: string; json: string; messagepack: string }>;

function only(messages: HubMessage[]): InvocationMessage {
  expect(messages).toHaveLength(1);
  expect(messages[0]!.type).toBe(MessageType.Invocation);
  return messages[0] as InvocationMessage;
}

function decode(kind: string): { target: string; json: unknown; msgpack: unknown } {
  const frames = fixture[kind]!;
  const json = only(new JsonHubProtocol().parseMessages(frames.json, NullLogger.instance));
  const bytes = Buffer.from(frames.messagepack, "base64");
  const msgpack = only(new MessagePackHubProtocol().parseMessages(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), NullLogger.instance));
  expect(json.target).toBe(frames.target);
  expect(msgpack.target).toBe(frames.target);
  return { target: frames.target, json: json.arguments[0], msgpack: msgpack.arguments[0] };
}

const fromWire: Record<string, (value: never) => unknown> = {
  signal: signalFromWire,
  signalResolved: outcomeFromWire,
  candle: candleFromWire,
};

describe("the server's MessagePack frames become the objects its JSON frames are", () => {
  for (const kind of Object.keys(fixture)) {
    it(kind, () => {
      const { target, json, msgpack } = decode(kind);
      const convert = fromWire[target]!;
      const fromJson = structuredClone(json);
      expect(convert(fromJson as never), "a JSON message is left as it is").toEqual(json);
      expect(convert(msgpack as never)).toEqual(json);
    });
  }

  it("prices arrive as strings over MessagePack and become the numbers JSON.parse gives for the same digits", () => {
    const { msgpack } = decode("shadow signal from a TradingView source");
    expect(typeof (msgpack as { entry: unknown }).entry).toBe("string");
    const signal = signalFromWire(msgpack as Signal);
    expect(signal.entry).toBe(JSON.parse("97123.12345678"));
    expect(signal.models.map((m) => m.isShadow)).toEqual([undefined, true]); // false is left out, as JSON does
    expect(Number.isSafeInteger(signal.seq) && Number.isSafeInteger(signal.publishedAt)).toBe(true);
  });

  it("a subscribe result without a reason has none, and its signals are converted", () => {
    const { msgpack } = decode("shadow signal from a TradingView source");
    const result = subscribeResultFromWire({
      symbol: "BTCUSDT", timeframes: ["1m"], latestSeq: 42, recovered: true, signals: [msgpack as Signal], reason: null,
    } as SubscribeResult);
    expect("reason" in result).toBe(false);
    expect(typeof result.signals[0]!.entry).toBe("number");
  });

  it("a price that is no number is refused naming the field", () => {
    const { msgpack } = decode("candle");
    (msgpack as { close: unknown }).close = "n/a";
    expect(() => candleFromWire(msgpack as CandleMessage)).toThrow(/candle\.close is "n\/a"/);
  });

  it("the client hands its handlers converted signals, outcomes and candles", async () => {
    const server = new FakeServer();
    let connection!: FakeConnection;
    const client = new SignalStreamClient("http://test", {
      protocol: "msgpack",
      reconnect: false,
      logger: 6,
      connectionFactory: () => (connection = new FakeConnection(server)),
    });
    await client.start();
    const { msgpack: signal, json: jsonSignal } = decode("shadow signal from a TradingView source");
    const { msgpack: outcome, json: jsonOutcome } = decode("outcome");
    const { msgpack: candle, json: jsonCandle } = decode("candle");
    const signals: Signal[] = [];
    const outcomes: SignalOutcome[] = [];
    const candles: CandleMessage[] = [];
    server.stored.set("BTCUSDT", Array.from({ length: 41 }, (_, i) => ({ ...(jsonSignal as Signal), seq: i + 1 })));
    await client.subscribe("BTCUSDT", { timeframes: ["1M", "1m"] }, { onSignal: (s) => signals.push(s), onResolved: (o) => outcomes.push(o) });
    await client.subscribeCandles("ETHUSDT", "15m", (c) => candles.push(c));
    connection.emit("signal", signal as Signal);
    connection.emit("signalResolved", outcome as SignalOutcome);
    connection.emit("candle", candle as CandleMessage);
    expect(signals.at(-1)).toEqual(jsonSignal);
    expect(outcomes).toEqual([jsonOutcome]);
    expect(candles).toEqual([jsonCandle]);
    await client.close();
  });

  it("refuses a protocol it does not know", () => {
    expect(() => new SignalStreamClient("http://test", { protocol: "msgpak" as never })).toThrow(/protocol is "msgpak"; use "json" or "msgpack"/);
  });
});
