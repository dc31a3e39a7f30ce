import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectionState, connect, LogLevel, SignalStreamApi } from "../../src/index.js";
import { CuttableProxy } from "../support/proxy.js";
import { type RunningServer, startServer, waitFor } from "../support/server.js";

// What works without models: the connection, candle fan-out and the server's refusals. (server.test.ts covers signals.)
const SYMBOL = "BTCUSDT";
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ speed: 600 });
});

afterAll(async () => {
  await server?.stop();
});

describe("the SDK against a real server: candles and refusals", () => {
  it("streams candles of a subscribed stream", async () => {
    const client = await connect(server.url, { reconnect: false });
    try {
      const closed: number[] = [];
      await client.subscribeCandles(SYMBOL, "1m", (c) => {
        expect(c.symbol).toBe(SYMBOL);
        expect(c.timeframe).toBe("1m");
        expect(c.high).toBeGreaterThanOrEqual(c.low);
        if (c.isClosed) closed.push(c.openTime);
      });
      await waitFor(() => closed.length >= 3, "3 closed 1m candles", 60_000);
      for (let i = 1; i < closed.length; i++) expect(closed[i]! - closed[i - 1]!).toBe(60_000);
    } finally {
      await client.close();
    }
  });

  it("rejects an unknown symbol with the server's reason", async () => {
    const client = await connect(server.url, { reconnect: false });
    try {
      await expect(client.subscribe("NOPEUSDT", {}, { onSignal: () => {} })).rejects.toThrow(/NOPEUSDT/);
    } finally {
      await client.close();
    }
  });
  it("re-subscribes candle streams after the network is cut, with no repeated closed candle", async () => {
    const proxy = await CuttableProxy.start(server.port);
    const client = await connect(proxy.url, { reconnect: { delaysMs: [0, 250, 500] }, logger: LogLevel.None });
    try {
      const states: ConnectionState[] = [];
      client.onStateChange((s) => states.push(s));
      const closed: number[] = [];
      await client.subscribeCandles(SYMBOL, "1m", (c) => {
        if (c.isClosed) closed.push(c.openTime);
      });
      await waitFor(() => closed.length >= 3, "3 closed candles before the cut", 60_000);
      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const beforeRestore = closed.length;
      proxy.restore();
      await waitFor(() => client.state === "connected", "the reconnect", 30_000);
      await waitFor(() => closed.length >= beforeRestore + 3, "3 closed candles after the reconnect", 60_000);
      for (let i = 1; i < closed.length; i++) expect(closed[i]!, "closed candles strictly in order").toBeGreaterThan(closed[i - 1]!);
      expect(states).toEqual(expect.arrayContaining(["reconnecting", "connected"]));
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("delivers the closed candles closed during a network cut after the reconnect, once each, in order, none missing", async () => {
    const proxy = await CuttableProxy.start(server.port);
    const client = await connect(proxy.url, { reconnect: { delaysMs: [0, 250, 500] }, logger: LogLevel.None });
    const api = new SignalStreamApi(server.url);
    const newestStored = async (after: number) => (await api.candles(SYMBOL, "1m", { afterOpenTime: after, limit: 1000 })).at(-1)?.openTime ?? after;
    try {
      const closed: number[] = [];
      const errors: Error[] = [];
      await client.subscribeCandles(SYMBOL, "1m", (c) => {
        if (c.isClosed) closed.push(c.openTime);
      }, { onError: (e) => errors.push(e) });
      await waitFor(() => closed.length >= 3, "3 closed candles before the cut", 60_000);
      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const lastBeforeCut = closed.at(-1)!;
      let stored = lastBeforeCut;
      await waitFor(async () => (stored = await newestStored(stored)) >= lastBeforeCut + 5 * 60_000, "5 candles closed and stored during the cut", 60_000);
      const receivedDuringCut = closed.length;
      proxy.restore();
      await waitFor(() => client.state === "connected", "the reconnect", 30_000);
      await waitFor(() => closed.length >= receivedDuringCut + 8, "the missed candles and live ones after them", 60_000);

      // Every stored closed candle from the first received to the last, exactly as /api/candles has them.
      const last = closed.at(-1)!;
      await waitFor(async () => (await newestStored(last - 1)) >= last, "the last received candle to be stored", 30_000);
      const expected: number[] = [];
      for (let after = closed[0]! - 1; after < last;) {
        const page = await api.candles(SYMBOL, "1m", { afterOpenTime: after, limit: 1000 });
        if (page.length === 0) break;
        expected.push(...page.map((c) => c.openTime).filter((t) => t <= last));
        after = page.at(-1)!.openTime;
      }
      expect(closed.slice(0, expected.length)).toEqual(expected);
      expect(closed.filter((t) => t > lastBeforeCut && t <= stored).length, "the candles closed during the cut").toBeGreaterThanOrEqual(5);
      expect(errors).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
