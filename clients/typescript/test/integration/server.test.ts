import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type ConnectionState, LogLevel, type Signal, type SignalSource, SignalStreamApi, type SignalStreamClient, TIMEFRAMES } from "../../src/index.js";
import { CuttableProxy } from "../support/proxy.js";
import { type RunningServer, startServer, waitFor, waitForFirstSignal, PERMISSIVE_DECISIONS } from "../support/server.js";

/** What the application saw on one subscription. */
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
    /** Seqs after the first-subscribe snapshot: the stream that must have no gap and no duplicate. */
    streamSeqs: () => seen.filter((s) => s.source !== "snapshot").map((s) => s.signal.seq),
    count: (source: SignalSource) => seen.filter((s) => s.source === source).length,
  };
}

function expectContiguous(seqs: number[], what: string): void {
  expect(seqs.length, `${what}: no signals`).toBeGreaterThan(0);
  const expected = Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i);
  expect(seqs, `${what}: a gap or a duplicate`).toEqual(expected);
}

const SYMBOL = "BTCUSDT";
let server: RunningServer;
let api: SignalStreamApi;

// These tests prove the SDK's delivery guarantees (order, no gap, no duplicate, resume), not the models' skill: the
// server runs with permissive decision settings (PERMISSIVE_DECISIONS says why).

beforeAll(async () => {
  server = await startServer({ speed: 600, extraArgs: PERMISSIVE_DECISIONS });
  api = new SignalStreamApi(server.url);
  await waitForFirstSignal(server);
});

afterAll(async () => {
  await server?.stop();
});

describe("the SDK against a real server (simulated market)", () => {
  it("receives live signals in seq order with every contract field", async () => {
    const client = await connect(server.url, { reconnect: false });
    try {
      const app = recorder();
      const sub = await client.subscribe(SYMBOL, {}, app.handlers);
      await waitFor(() => app.count("live") >= 5, "5 live signals", 90_000);
      expectContiguous(app.streamSeqs(), "live stream");
      for (const { signal } of app.seen) {
        expect(signal.symbol).toBe(SYMBOL);
        expect(TIMEFRAMES).toContain(signal.timeframe);
        expect(["long", "short"]).toContain(signal.direction);
        expect(signal.confidence).toBeGreaterThanOrEqual(0);
        expect(signal.confidence).toBeLessThanOrEqual(100);
        for (const price of [signal.entry, signal.target, signal.stop]) expect(typeof price).toBe("number");
        expect(signal.exchangeTime).toBeGreaterThan(0);
        expect(signal.publishedAt).toBeGreaterThanOrEqual(signal.exchangeTime);
      }
      expect(sub.lastSeq).toBe(app.seen.at(-1)!.signal.seq);
      expect(app.errors).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("filters by timeframe and minimum confidence", async () => {
    const client = await connect(server.url, { reconnect: false });
    try {
      const app = recorder();
      await client.subscribe(SYMBOL, { timeframes: ["1m", "5m"], minConfidence: 50 }, app.handlers);
      await waitFor(() => app.count("live") >= 2, "2 matching live signals", 90_000);
      for (const { signal } of app.seen) {
        expect(["1m", "5m"]).toContain(signal.timeframe);
        expect(signal.confidence).toBeGreaterThanOrEqual(50);
      }
    } finally {
      await client.close();
    }
  });

  it("recovers the signals missed while the network was cut, with no gap and no duplicate", async () => {
    const proxy = await CuttableProxy.start(server.port);
    const states: ConnectionState[] = [];
    const client: SignalStreamClient = await connect(proxy.url, { reconnect: { delaysMs: [0, 250, 500] }, logger: LogLevel.None });
    try {
      client.onStateChange((s) => states.push(s));
      const app = recorder();
      const sub = await client.subscribe(SYMBOL, {}, app.handlers);
      await waitFor(() => app.count("live") >= 3, "3 live signals before the cut", 90_000);

      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const seenAtCut = sub.lastSeq!;
      // The server keeps publishing: wait (on the server itself) until it has signals the client cannot have seen.
      await waitFor(async () => (await api.signals(SYMBOL, { afterSeq: seenAtCut, limit: 10 })).length >= 2,
        "2 signals published during the cut", 90_000);

      proxy.restore();
      await waitFor(() => client.state === "connected", "the reconnect", 30_000);
      await waitFor(() => app.count("live") >= 3 + 2 && sub.lastSeq! >= seenAtCut + 4, "live signals after the reconnect", 90_000);

      expectContiguous(app.streamSeqs(), "across the cut");
      expect(app.count("recovered"), "signals recovered with afterSeq").toBeGreaterThanOrEqual(2);
      expect(states).toContain("reconnecting");
      expect(app.errors).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("recovers the outcomes resolved while the network was cut, each once and in outcomeSeq order", async () => {
    // Signals expire after 4 candles (PERMISSIVE_DECISIONS) and a 1m candle closes every 0.1 s at 600x: outcomes come steadily.
    const proxy = await CuttableProxy.start(server.port);
    const client: SignalStreamClient = await connect(proxy.url, { reconnect: { delaysMs: [0, 250, 500] }, logger: LogLevel.None });
    try {
      const outcomeSeqs: number[] = [];
      const app = recorder();
      const sub = await client.subscribe(SYMBOL, {}, { ...app.handlers, onResolved: (outcome) => outcomeSeqs.push(outcome.outcomeSeq) });
      await waitFor(() => outcomeSeqs.length >= 3, "3 outcomes before the cut", 90_000);

      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const seenAtCut = outcomeSeqs.at(-1)!;
      // Outcomes go on while the client is away; signals say how far the server got (the REST page would need paging to it).
      const signalAtCut = sub.lastSeq!;
      await waitFor(async () => (await api.signals(SYMBOL, { afterSeq: signalAtCut, limit: 20 })).length >= 8,
        "8 signals (and the outcomes of earlier ones) during the cut", 90_000);

      proxy.restore();
      await waitFor(() => client.state === "connected", "the reconnect", 30_000);
      await waitFor(() => outcomeSeqs.at(-1)! >= seenAtCut + 6, "outcomes after the reconnect", 90_000);

      expectContiguous(outcomeSeqs, "outcomeSeq across the cut");
      expect(app.errors).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("resumes across a server restart with the file store kept, with no gap and no duplicate", async () => {
    const client = await connect(server.url, { reconnect: { delaysMs: [0, 250, 500, 1000] }, logger: LogLevel.None });
    try {
      const app = recorder();
      const sub = await client.subscribe(SYMBOL, {}, app.handlers);
      await waitFor(() => app.count("live") >= 3, "3 live signals before the restart", 90_000);

      const { port, dataDir } = server;
      await server.stop();
      await waitFor(() => client.state === "reconnecting", "the client to notice the restart", 30_000);
      const beforeRestart = sub.lastSeq!;
      server = await startServer({ port, dataDir, speed: 600, extraArgs: PERMISSIVE_DECISIONS });

      await waitFor(() => client.state === "connected" && sub.lastSeq! >= beforeRestart + 3, "3 signals after the restart", 120_000);
      expectContiguous(app.streamSeqs(), "across the restart");
      expect(app.errors).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
