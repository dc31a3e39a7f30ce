import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CandleMessage, connect, LogLevel, type Signal, type SignalSource, SignalStreamApi } from "../../src/index.js";
import { CuttableProxy } from "../support/proxy.js";
import { type RunningServer, startServer, waitFor, waitForFirstSignal, PERMISSIVE_DECISIONS } from "../support/server.js";

// The SDK's MessagePack path (`protocol: "msgpack"`) against a real server, beside a JSON client on the same server:
// the same signals and candles as the same objects, in seq order, and a resume after a network cut with no gap and no
// duplicate. Permissive decision settings, as in server.test.ts, so that signals come quickly.
const SYMBOL = "BTCUSDT";
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ speed: 600, extraArgs: PERMISSIVE_DECISIONS });
  await waitForFirstSignal(server);
});

afterAll(async () => {
  await server?.stop();
});

function recorder() {
  const seen: Array<{ signal: Signal; source: SignalSource }> = [];
  const errors: Error[] = [];
  return {
    seen,
    errors,
    handlers: {
      onSignal: (signal: Signal, info: { source: SignalSource }) => seen.push({ signal, source: info.source }),
      onError: (error: Error) => errors.push(error),
    },
    streamSeqs: () => seen.filter((s) => s.source !== "snapshot").map((s) => s.signal.seq),
    count: (source: SignalSource) => seen.filter((s) => s.source === source).length,
  };
}

function expectContiguous(seqs: number[], what: string): void {
  expect(seqs.length, `${what}: no signals`).toBeGreaterThan(0);
  expect(seqs, `${what}: a gap or a duplicate`).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
}

describe("the SDK's MessagePack path against a real server", () => {
  it("receives the same signals and candles as a JSON client, in seq order, as the same objects", async () => {
    const msgpack = await connect(server.url, { protocol: "msgpack", reconnect: false });
    const json = await connect(server.url, { protocol: "json", reconnect: false });
    try {
      const overMsgpack = recorder();
      const overJson = recorder();
      const candles = { msgpack: [] as CandleMessage[], json: [] as CandleMessage[] };
      await json.subscribe(SYMBOL, {}, overJson.handlers);
      await msgpack.subscribe(SYMBOL, {}, overMsgpack.handlers);
      await json.subscribeCandles(SYMBOL, "1m", (c) => candles.json.push(c));
      await msgpack.subscribeCandles(SYMBOL, "1m", (c) => candles.msgpack.push(c));

      await waitFor(() => overMsgpack.count("live") >= 5, "5 live signals over MessagePack", 90_000);
      await waitFor(() => candles.msgpack.filter((c) => c.isClosed).length >= 2, "2 closed candles over MessagePack", 60_000);
      expectContiguous(overMsgpack.streamSeqs(), "MessagePack live stream");
      expect(overMsgpack.errors).toEqual([]);

      // Every signal both saw (same seq) is the same object, field for field; prices are numbers.
      const byJson = new Map(overJson.seen.map(({ signal }) => [signal.seq, signal]));
      const shared = overMsgpack.seen.filter(({ signal }) => byJson.has(signal.seq));
      expect(shared.length).toBeGreaterThanOrEqual(5);
      for (const { signal } of shared) {
        expect(signal).toEqual(byJson.get(signal.seq));
        for (const price of [signal.entry, signal.target, signal.stop]) expect(typeof price).toBe("number");
        expect(Number.isSafeInteger(signal.seq) && Number.isSafeInteger(signal.exchangeTime)).toBe(true);
      }

      const jsonClosed = new Map(candles.json.filter((c) => c.isClosed).map((c) => [c.openTime, c]));
      const sharedCandles = candles.msgpack.filter((c) => c.isClosed && jsonClosed.has(c.openTime));
      expect(sharedCandles.length).toBeGreaterThanOrEqual(1);
      for (const candle of sharedCandles) expect(candle).toEqual(jsonClosed.get(candle.openTime));
    } finally {
      await msgpack.close();
      await json.close();
    }
  });

  it("recovers the signals missed while the network was cut, with no gap and no duplicate", async () => {
    const proxy = await CuttableProxy.start(server.port);
    const api = new SignalStreamApi(server.url);
    const client = await connect(proxy.url, { protocol: "msgpack", reconnect: { delaysMs: [0, 250, 500] }, logger: LogLevel.None });
    try {
      const app = recorder();
      const sub = await client.subscribe(SYMBOL, {}, app.handlers);
      await waitFor(() => app.count("live") >= 3, "3 live signals before the cut", 90_000);

      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const seenAtCut = sub.lastSeq!;
      await waitFor(async () => (await api.signals(SYMBOL, { afterSeq: seenAtCut, limit: 10 })).length >= 2,
        "2 signals published during the cut", 90_000);

      proxy.restore();
      await waitFor(() => client.state === "connected", "the reconnect", 30_000);
      await waitFor(() => sub.lastSeq! >= seenAtCut + 4, "live signals after the reconnect", 90_000);

      expectContiguous(app.streamSeqs(), "across the cut");
      expect(app.count("recovered"), "signals recovered with afterSeq").toBeGreaterThanOrEqual(2);
      for (const { signal } of app.seen) expect(typeof signal.entry).toBe("number");
      expect(app.errors).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
