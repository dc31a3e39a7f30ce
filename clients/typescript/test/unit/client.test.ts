import { describe, expect, it } from "vitest";
import {
  CandleGapError,
  type ConnectionState,
  MAX_CONCURRENT_CANDLE_READS,
  MAX_HELD_CANDLES,
  type ConnectOptions,
  OutcomeGapError,
  SignalGapError,
  SignalHistoryResetError,
  SignalStreamClient,
  SubscriptionError,
} from "../../src/index.js";
import type { CandleMessage, Signal, SubscribeRequest } from "../../src/types.js";
import { FakeConnection, FakeServer, until } from "./fakeHub.js";

interface Harness {
  server: FakeServer;
  connection: FakeConnection;
  client: SignalStreamClient;
  states: ConnectionState[];
}

async function harness(server = new FakeServer(), options: Partial<ConnectOptions> = {}): Promise<Harness> {
  let connection!: FakeConnection;
  const client = new SignalStreamClient("http://test", {
    reconnect: { delaysMs: [0, 5] },
    recoveryRetryDelaysMs: [1, 2, 3],
    logger: 6, // LogLevel.None: the tests assert on callbacks, not console output
    connectionFactory: () => (connection = new FakeConnection(server)),
    fetch: server.fetch,
    ...options,
  });
  const states: ConnectionState[] = [];
  client.onStateChange((s) => states.push(s));
  await client.start();
  return { server, connection, client, states };
}

function collector() {
  const signals: Signal[] = [];
  const sources: string[] = [];
  const errors: Error[] = [];
  return {
    signals,
    sources,
    errors,
    seqs: () => signals.map((s) => s.seq),
    handlers: {
      onSignal: (s: Signal, info: { source: string }) => {
        signals.push(s);
        sources.push(info.source);
      },
      onError: (e: Error) => errors.push(e),
    },
  };
}

/** The Subscribe requests the connection sent, in order. */
const subscribes = (connection: FakeConnection) =>
  connection.invocations.filter((i) => i.method === "Subscribe").map((i) => i.args[0] as SubscribeRequest);

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("SignalStreamClient", () => {
  it("delivers the latest signal per timeframe first, then live signals in seq order", async () => {
    const { server, client } = await harness();
    for (let i = 0; i < 6; i++) server.publish("BTCUSDT");
    const app = collector();
    const sub = await client.subscribe("btcusdt", {}, app.handlers);
    expect(sub.symbol).toBe("BTCUSDT");
    expect(app.sources.every((s) => s === "snapshot")).toBe(true);
    expect(app.seqs()).toEqual([3, 4, 5, 6]); // one per timeframe, oldest first
    server.publish("BTCUSDT");
    server.publish("BTCUSDT");
    expect(app.seqs().slice(4)).toEqual([7, 8]);
    expect(sub.lastSeq).toBe(8);
    await client.close();
  });

  it("drops a duplicated live signal", async () => {
    const { server, connection, client } = await harness();
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    connection.duplicate.add(2);
    for (let i = 0; i < 3; i++) server.publish("BTCUSDT");
    expect(app.seqs()).toEqual([1, 2, 3]);
    await client.close();
  });

  it("fills a hole from the server before delivering past it", async () => {
    const { server, connection, client } = await harness();
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    connection.lose.add(2);
    connection.lose.add(3);
    for (let i = 0; i < 5; i++) server.publish("BTCUSDT");
    await until(() => app.signals.length === 5, "the hole to be filled");
    expect(app.seqs()).toEqual([1, 2, 3, 4, 5]);
    const subscribes = connection.invocations.filter((i) => i.method === "Subscribe").map((i) => i.args[0]);
    expect(subscribes).toContainEqual({ symbol: "BTCUSDT", afterSeq: 1 });
    expect(app.errors).toEqual([]);
    await client.close();
  });

  it("neither loses nor doubles live signals that race the subscribe result", async () => {
    const { server, connection, client } = await harness();
    server.publish("BTCUSDT");
    connection.beforeSubscribeReturns = () => {
      server.publish("BTCUSDT"); // seq 2 goes out live before the result that says latestSeq = 1
      server.publish("BTCUSDT");
    };
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    connection.beforeSubscribeReturns = undefined;
    server.publish("BTCUSDT");
    expect(app.seqs()).toEqual([1, 2, 3, 4]);
    await client.close();
  });

  it("resumes with afterSeq after an automatic reconnect and shows no gap or duplicate", async () => {
    const { server, connection, client, states } = await harness();
    const app = collector();
    const sub = await client.subscribe("BTCUSDT", {}, app.handlers);
    for (let i = 0; i < 3; i++) server.publish("BTCUSDT");
    connection.drop();
    for (let i = 0; i < 4; i++) server.publish("BTCUSDT"); // missed while away
    connection.reconnected();
    await until(() => app.signals.length === 7, "the missed signals");
    server.publish("BTCUSDT");
    expect(app.seqs()).toEqual(range(1, 8));
    expect(app.sources).toEqual(["live", "live", "live", "recovered", "recovered", "recovered", "recovered", "live"]);
    expect(connection.invocations.at(-1)).toEqual({ method: "Subscribe", args: [{ symbol: "BTCUSDT", afterSeq: 3 }] });
    expect(sub.lastSeq).toBe(8);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    await client.close();
  });

  it("restarts the connection itself when the server closes it, then resumes", async () => {
    const { server, connection, client, states } = await harness();
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    server.publish("BTCUSDT");
    server.accepting = false;
    connection.serverClose();
    server.publish("BTCUSDT");
    await until(() => connection.invocations.length === 1 && states.at(-1) === "reconnecting", "the close");
    server.accepting = true;
    await until(() => app.signals.length === 2, "the restart and resume");
    server.publish("BTCUSDT");
    expect(app.seqs()).toEqual([1, 2, 3]);
    expect(states.at(-1)).toBe("connected");
    await client.close();
    expect(client.state).toBe("disconnected");
  });

  it("reports a gap the server cannot recover, then continues in order", async () => {
    const { server, connection, client } = await harness();
    server.recoveryLimit = 2;
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    server.publish("BTCUSDT");
    connection.drop();
    for (let i = 0; i < 5; i++) server.publish("BTCUSDT"); // 2..6 missed, only 5 and 6 recoverable
    connection.reconnected();
    await until(() => app.seqs().includes(6), "the recovery");
    server.publish("BTCUSDT");
    expect(app.seqs()).toEqual([1, 5, 6, 7]);
    expect(app.errors).toHaveLength(1);
    const gap = app.errors[0] as SignalGapError;
    expect(gap).toBeInstanceOf(SignalGapError);
    expect(gap.gap).toMatchObject({ symbol: "BTCUSDT", from: 2, to: 4 });
    expect(gap.message).toContain("more than 2 signals were missed");
    // The client asked again once per recovery retry delay before it gave up on seqs 2..4.
    const resumes = connection.invocations.filter((i) => i.method === "Subscribe" && (i.args[0] as { afterSeq?: number }).afterSeq === 1);
    expect(resumes).toHaveLength(4);
    await client.close();
  });

  it("asks again while the server's store lags behind, and reports no gap", async () => {
    const { server, connection, client } = await harness();
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    server.publish("BTCUSDT");
    connection.drop();
    for (let i = 0; i < 5; i++) server.publish("BTCUSDT");
    server.laggingResumes = 2;
    connection.reconnected();
    await until(() => app.signals.length === 6, "the lagging recovery");
    expect(app.seqs()).toEqual(range(1, 6));
    expect(app.errors).toEqual([]);
    const resumes = connection.invocations.filter((i) => i.method === "Subscribe").map((i) => i.args[0]);
    // First subscribe, then afterSeq 1 (only seq 2 back), afterSeq 2 (only seq 3 back), afterSeq 3 (everything).
    expect(resumes).toEqual([{ symbol: "BTCUSDT" }, { symbol: "BTCUSDT", afterSeq: 1 }, { symbol: "BTCUSDT", afterSeq: 2 }, { symbol: "BTCUSDT", afterSeq: 3 }]);
    await client.close();
  });

  it("tells the application when the server's history ends before its position, then continues from the server's seq", async () => {
    const { server, connection, client } = await harness();
    const app = collector();
    const sub = await client.subscribe("BTCUSDT", {}, app.handlers);
    for (let i = 0; i < 3; i++) server.publish("BTCUSDT");
    await until(() => app.signals.length === 3, "the first signals");
    connection.drop();
    server.resetStore("BTCUSDT"); // the server's store starts over while the client is away
    server.publish("BTCUSDT");
    connection.reconnected();
    await until(() => app.errors.length === 1, "the reset");
    server.publish("BTCUSDT");
    await until(() => app.signals.length === 4, "the next live signal");

    const reset = app.errors[0] as SignalHistoryResetError;
    expect(reset).toBeInstanceOf(SignalHistoryResetError);
    expect(reset.reset).toMatchObject({ symbol: "BTCUSDT", previousSeq: 3, latestSeq: 1 });
    expect(reset.message).toContain("beyond the newest BTCUSDT signal (seq 1)");
    expect(app.seqs()).toEqual([1, 2, 3, 2]); // seq 2 of the new history, live; seq 1 of it happened while away
    expect(app.sources.at(-1)).toBe("live");
    expect(sub.lastSeq).toBe(2);
    // A late subscriber's snapshot holds nothing from the old history.
    const late = collector();
    await client.subscribe("BTCUSDT", {}, late.handlers);
    expect(late.seqs().every((seq) => seq <= 2)).toBe(true);
    await client.close();
  });

  it("asks again when the server cannot read its signal history yet, and only then gives up", async () => {
    const server = new FakeServer();
    server.publish("BTCUSDT");
    server.unavailableSubscribes = 2;
    const { client, connection } = await harness(server);
    const app = collector();
    await client.subscribe("BTCUSDT", {}, app.handlers);
    expect(app.seqs()).toEqual([1]);
    expect(app.errors).toEqual([]);
    expect(connection.invocations.filter((i) => i.method === "Subscribe")).toHaveLength(3);

    server.unavailableSubscribes = 100; // more than the three recovery retries
    await expect(client.subscribe("ETHUSDT", {}, collector().handlers)).rejects.toThrow(/signal history is unavailable/);
    expect(connection.invocations.filter((i) => i.method === "Subscribe" && (i.args[0] as { symbol: string }).symbol === "ETHUSDT")).toHaveLength(4);
    await client.close();
  });

  it("applies each subscription's filter while sharing one server subscription", async () => {
    const { server, connection, client } = await harness();
    const hourly = collector();
    const confident = collector();
    const subA = await client.subscribe("BTCUSDT", { timeframes: ["1h"] }, hourly.handlers);
    await client.subscribe("BTCUSDT", { minConfidence: 90 }, confident.handlers);
    for (let i = 0; i < 12; i++) server.publish("BTCUSDT");
    expect(hourly.signals.every((s) => s.timeframe === "1h")).toBe(true);
    expect(hourly.seqs()).toEqual([3, 7, 11]);
    expect(confident.signals.every((s) => s.confidence >= 90)).toBe(true);
    expect(subA.lastSeq).toBe(12); // filtered-out seqs still advance the resume point
    const subscribes = connection.invocations.filter((i) => i.method === "Subscribe");
    expect(subscribes).toHaveLength(1);
    expect(subscribes[0]!.args[0]).toEqual({ symbol: "BTCUSDT" });
    await client.close();
  });

  it("gives a late subscriber of a symbol the latest signal per timeframe", async () => {
    const { server, client } = await harness();
    await client.subscribe("BTCUSDT", {}, collector().handlers);
    for (let i = 0; i < 5; i++) server.publish("BTCUSDT");
    const late = collector();
    await client.subscribe("BTCUSDT", { timeframes: ["5m", "15m"] }, late.handlers);
    expect(late.seqs()).toEqual([2, 5]);
    expect(late.sources).toEqual(["snapshot", "snapshot"]);
    await client.close();
  });

  it("unsubscribes from the server when the last subscription of a symbol leaves", async () => {
    const { server, connection, client } = await harness();
    const a = collector();
    const subA = await client.subscribe("BTCUSDT", {}, a.handlers);
    const subB = await client.subscribe("BTCUSDT", {}, collector().handlers);
    await subA.unsubscribe();
    expect(connection.invocations.some((i) => i.method === "Unsubscribe")).toBe(false);
    server.publish("BTCUSDT");
    expect(a.signals).toEqual([]);
    await subB.unsubscribe();
    expect(connection.invocations.at(-1)).toEqual({ method: "Unsubscribe", args: ["BTCUSDT"] });
    expect(subB.active).toBe(false);
    await client.close();
  });

  it("rejects a subscription the server refuses with the server's reason", async () => {
    const server = new FakeServer();
    server.refused.add("DOGEUSDT");
    const { client } = await harness(server);
    await expect(client.subscribe("DOGEUSDT", {}, collector().handlers)).rejects.toThrow(SubscriptionError);
    await expect(client.subscribe("DOGEUSDT", {}, collector().handlers)).rejects.toThrow(/not a configured symbol/);
    await client.close();
  });

  it("rejects a bad symbol, timeframe or confidence before calling the server", async () => {
    const { connection, client } = await harness();
    await expect(client.subscribe("BTC/USDT", {}, collector().handlers)).rejects.toThrow(/not a symbol/);
    await expect(client.subscribe("BTCUSDT", { timeframes: ["1H" as never] }, collector().handlers)).rejects.toThrow(/'1H' not Binance interval names/);
    await expect(client.subscribe("BTCUSDT", { minConfidence: 120 }, collector().handlers)).rejects.toThrow(/between 0 and 100/);
    await expect(client.subscribeCandles("BTCUSDT", "2m" as never, () => {})).rejects.toThrow(/not a Binance interval name/);
    expect(connection.invocations).toEqual([]);
    await client.close();
  });

  it("keeps delivering when an application handler throws, and says so", async () => {
    const { server, client } = await harness();
    const seen: number[] = [];
    const errors: Error[] = [];
    await client.subscribe("BTCUSDT", {}, {
      onSignal: (s) => {
        seen.push(s.seq);
        if (s.seq === 1) throw new Error("boom");
      },
      onError: (e) => errors.push(e),
    });
    server.publish("BTCUSDT");
    server.publish("BTCUSDT");
    expect(seen).toEqual([1, 2]);
    expect(errors.map((e) => e.message)).toEqual(["onSignal threw for BTCUSDT seq 1: boom"]);
    await client.close();
  });

  it("delivers outcomes once, filtered by timeframe, and never a shadow model's", async () => {
    const { connection, client } = await harness();
    const outcomes: string[] = [];
    await client.subscribe("BTCUSDT", { timeframes: ["1h"] }, { onSignal: () => {}, onResolved: (o) => outcomes.push(o.signalId) });
    const outcome = {
      signalId: "a", outcomeSeq: 0, signalSeq: 1, symbol: "BTCUSDT", timeframe: "1h" as const, direction: "long" as const, outcome: "win" as const,
      entry: 1, exitPrice: 2, rMultiple: 1.5, resolvedCandleOpenTime: 0, resolvedAt: 0, reason: "target", models: [], isShadow: false,
      source: "ensemble" as const,
    };
    connection.emit("signalResolved", outcome);
    connection.emit("signalResolved", outcome);
    connection.emit("signalResolved", { ...outcome, signalId: "b", timeframe: "5m" });
    connection.emit("signalResolved", { ...outcome, signalId: "c", isShadow: true });
    expect(outcomes).toEqual(["a"]);
    await client.close();
  });

  it("recovers the outcomes resolved while reconnecting, then live ones, each once and in outcomeSeq order", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { onSignal: () => {}, onResolved: (o) => resolved.push(o.outcomeSeq) });
    for (let i = 0; i < 3; i++) server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 1);
    connection.drop();
    server.resolve("BTCUSDT", 2); // resolved while away
    server.resolve("BTCUSDT", 3);
    connection.reconnected();
    await until(() => resolved.length === 3, "the recovered outcomes");
    expect(connection.invocations.at(-1)).toEqual({ method: "Subscribe", args: [{ symbol: "BTCUSDT", afterSeq: 3, afterOutcomeSeq: 1 }] });
    connection.emit("signalResolved", server.outcomes.get("BTCUSDT")![2]!); // a duplicate
    server.resolve("BTCUSDT", 1);
    expect(resolved).toEqual([1, 2, 3, 4]);
    await client.close();
  });

  it("delivers the signals of a resume whose outcomes fell short at once, and asks again for the outcomes only", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    const app = collector();
    const resolved: number[] = [];
    const subscribesAtEachSignal: number[] = [];
    await client.subscribe("BTCUSDT", {}, {
      ...app.handlers,
      onSignal: (s, info) => {
        app.handlers.onSignal(s, info);
        subscribesAtEachSignal.push(subscribes(connection).length);
      },
      onResolved: (o) => resolved.push(o.outcomeSeq),
    });
    server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 1);
    connection.drop();
    server.publish("BTCUSDT");
    server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 2);
    server.resolve("BTCUSDT", 3);
    server.laggingOutcomeResumes = 1; // every signal comes back at once; the outcomes on the second asking
    connection.reconnected();
    await until(() => resolved.length === 3, "the recovered outcomes");

    expect(app.seqs()).toEqual([1, 2, 3]);
    expect(subscribesAtEachSignal.slice(1)).toEqual([2, 2]); // seqs 2 and 3 from the first resume's answer, no retry needed
    expect(app.errors).toEqual([]);
    expect(subscribes(connection).slice(1)).toEqual([
      { symbol: "BTCUSDT", afterSeq: 1, afterOutcomeSeq: 1 },
      { symbol: "BTCUSDT", afterSeq: 3, afterOutcomeSeq: 1 }, // the signals from where they got to
    ]);
    expect(resolved).toEqual([1, 2, 3]);
    await client.close();
  });

  it("does not ask for the signals again when only the outcomes were not recovered (their store was reset)", async () => {
    const logs: string[] = [];
    const { server, connection, client } = await harness(new FakeServer(), { logger: { log: (_level, message) => logs.push(message) } });
    server.outcomes.set("BTCUSDT", []);
    const app = collector();
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { ...app.handlers, onResolved: (o) => resolved.push(o.outcomeSeq) });
    server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 1);
    server.resolve("BTCUSDT", 1);
    connection.drop();
    server.publish("BTCUSDT");
    server.outcomes.set("BTCUSDT", []); // the outcomes start over while the client is away
    server.resolve("BTCUSDT", 2);
    connection.reconnected();
    await until(() => app.signals.length === 2, "the recovered signal"); // the answer is taken in one go: a retry is decided by now
    server.resolve("BTCUSDT", 2);

    expect(app.seqs()).toEqual([1, 2]);
    expect(app.errors).toEqual([]);
    expect(logs.filter((line) => line.includes("asking again"))).toEqual([]);
    expect(subscribes(connection).slice(1)).toEqual([{ symbol: "BTCUSDT", afterSeq: 1, afterOutcomeSeq: 2 }]);
    expect(resolved).toEqual([1, 2, 2]); // outcomeSeq 2 of the new history live: from the server's position, as before
    await client.close();
  });

  it("asks again with the same afterOutcomeSeq while the store lags behind, then delivers every outcome once and in order", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    const app = collector();
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { ...app.handlers, onResolved: (o) => resolved.push(o.outcomeSeq) });
    for (let i = 1; i <= 3; i++) server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 1);
    connection.drop();
    server.resolve("BTCUSDT", 2);
    server.resolve("BTCUSDT", 3);
    server.laggingOutcomeResumes = 2;
    // Each answer races a live outcome resolved after it was computed (as a real join: live from its latestOutcomeSeq + 1).
    let next = 1;
    connection.beforeSubscribeReturns = () => {
      if (next <= 3) server.resolve("BTCUSDT", next++);
    };
    connection.reconnected();
    await until(() => resolved.length === 6, "every outcome");
    connection.beforeSubscribeReturns = undefined;
    server.resolve("BTCUSDT", 2);

    expect(resolved).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(app.errors).toEqual([]);
    expect(subscribes(connection).slice(1).map((r) => r.afterOutcomeSeq)).toEqual([1, 1, 1]);
    await client.close();
  });

  it("reports outcomes lost past the server's resume limit as an OutcomeGapError with its reason, after delivering the rest in order", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    server.outcomeRecoveryLimit = 2;
    const app = collector();
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { ...app.handlers, onResolved: (o) => resolved.push(o.outcomeSeq) });
    server.publish("BTCUSDT");
    server.resolve("BTCUSDT", 1);
    connection.drop();
    for (let i = 0; i < 5; i++) server.resolve("BTCUSDT", 1); // 2..6 missed, only 5 and 6 recoverable
    connection.reconnected();
    await until(() => app.errors.length === 1, "the outcome gap");
    server.resolve("BTCUSDT", 1);

    expect(resolved).toEqual([1, 5, 6, 7]);
    expect(app.errors).toHaveLength(1);
    const gap = app.errors[0] as OutcomeGapError;
    expect(gap).toBeInstanceOf(OutcomeGapError);
    expect(gap.gap).toMatchObject({ symbol: "BTCUSDT", afterOutcomeSeq: 1, latestOutcomeSeq: 6 });
    expect(gap.gap.reason).toContain("more than the resume limit of 2");
    expect(gap.message).toContain("outcomes after outcomeSeq 1 up to 6 were missed");
    // Asked once per recovery retry delay before giving up, the signals each time from where they were (no SignalGapError).
    expect(subscribes(connection).slice(1)).toEqual(Array(4).fill({ symbol: "BTCUSDT", afterSeq: 1, afterOutcomeSeq: 1 }));
    expect(app.seqs()).toEqual([1]);
    await client.close();
  });

  it("holds at most 4096 live outcomes: past it the answer is taken as final, the loss reported, and the rest asked for after", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    const app = collector();
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { ...app.handlers, onResolved: (o) => resolved.push(o.outcomeSeq) });
    server.publish("BTCUSDT");
    connection.drop();
    server.resolve("BTCUSDT", 1);
    server.resolve("BTCUSDT", 1);
    server.laggingOutcomeResumes = 100; // the store would keep lagging
    connection.beforeSubscribeReturns = () => {
      connection.beforeSubscribeReturns = undefined;
      for (let i = 0; i < 4097; i++) server.resolve("BTCUSDT", 1); // outcomeSeqs 3..4099 live, racing the answer
    };
    connection.reconnected();
    await until(() => resolved.length === 4098, "every outcome but the lost one");
    server.resolve("BTCUSDT", 1);

    // The lagging answer (joined at outcomeSeq 2) had outcome 1 only: 1 and the 4096 held are delivered, 2 is reported
    // lost, and 4099, not held, comes from a Subscribe after 4098; then live ones.
    expect(resolved).toEqual([1, ...range(3, 4099), 4100]);
    expect(app.errors).toHaveLength(1);
    expect((app.errors[0] as OutcomeGapError).gap).toMatchObject({ afterOutcomeSeq: 0, latestOutcomeSeq: 2 });
    expect(subscribes(connection).slice(1).map((r) => r.afterOutcomeSeq)).toEqual([0, 4098]);
    await client.close();
  });

  it("drops the outcomes held on a connection that dropped, so a node behind that one cannot make them skip the ones before", async () => {
    const { server, connection, client } = await harness();
    server.outcomes.set("BTCUSDT", []);
    const resolved: number[] = [];
    await client.subscribe("BTCUSDT", {}, { onSignal: () => {}, onResolved: (o) => resolved.push(o.outcomeSeq) });
    server.publish("BTCUSDT");
    connection.drop();
    server.resolve("BTCUSDT", 1);
    server.resolve("BTCUSDT", 1);
    // The resume's answer is lost with the connection, after outcomeSeq 3 came live behind it (held).
    connection.beforeSubscribeReturns = () => {
      connection.beforeSubscribeReturns = undefined;
      server.resolve("BTCUSDT", 1);
      connection.drop();
    };
    connection.reconnected();
    await until(() => subscribes(connection).length === 2 && connection.state === "Reconnecting", "the lost resume");
    // The next node has only outcomeSeq 1 yet: it returns that one, and sends 2 and 3 live afterwards.
    const all = server.outcomes.get("BTCUSDT")!;
    server.outcomes.set("BTCUSDT", all.slice(0, 1));
    connection.reconnected();
    await until(() => resolved.length === 1, "the resume on the node behind");
    connection.emit("signalResolved", all[1]!);
    connection.emit("signalResolved", all[2]!);

    expect(subscribes(connection).slice(1).map((r) => r.afterOutcomeSeq)).toEqual([0, 0]);
    expect(resolved).toEqual([1, 2, 3]);
    await client.close();
  });

  it("streams candles, drops stale updates and re-subscribes them after a reconnect", async () => {
    const { connection, client } = await harness();
    const candles: CandleMessage[] = [];
    const sub = await client.subscribeCandles("btcusdt", "1m", (c) => candles.push(c));
    expect(connection.candleStreams.has("BTCUSDT@1m")).toBe(true);
    const candle = (openTime: number, isClosed: boolean): CandleMessage => ({
      symbol: "BTCUSDT", timeframe: "1m", openTime, closeTime: openTime + 59_999, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, isClosed,
    });
    connection.emit("candle", candle(0, false));
    connection.emit("candle", candle(0, true));
    connection.emit("candle", candle(0, false)); // stale in-progress update after the close
    connection.emit("candle", candle(0, true)); // repeated close
    connection.emit("candle", candle(60_000, false));
    expect(candles.map((c) => [c.openTime, c.isClosed])).toEqual([[0, false], [0, true], [60_000, false]]);
    connection.drop();
    expect(connection.candleStreams.size).toBe(0);
    connection.reconnected();
    await until(() => connection.candleStreams.has("BTCUSDT@1m"), "candles to be re-subscribed");
    await sub.unsubscribe();
    expect(connection.invocations.at(-1)).toEqual({ method: "UnsubscribeCandles", args: ["BTCUSDT", "1m"] });
    await client.close();
  });
});

describe("candle subscriptions across a reconnect", () => {
  const M = 60_000;

  /** A client subscribed to BTCUSDT@1m, with what reached it as [openTime in minutes, isClosed] pairs and its errors. */
  async function candleHarness(server = new FakeServer()) {
    const h = await harness(server);
    const got: Array<[number, boolean]> = [];
    const errors: Error[] = [];
    const sub = await h.client.subscribeCandles("BTCUSDT", "1m", (c) => got.push([c.openTime / M, c.isClosed]), { onError: (e) => errors.push(e) });
    const closedMinutes = () => got.filter(([, closed]) => closed).map(([t]) => t);
    return { ...h, got, errors, sub, closedMinutes };
  }

  it("delivers the closed candles sent while away once each, in openTime order, before the live ones that follow", async () => {
    const { server, connection, client, got, errors, closedMinutes } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, false);
    server.candle("BTCUSDT", "1m", 0, true);
    server.candle("BTCUSDT", "1m", M, false);
    connection.drop();
    for (const t of [1, 2, 3]) server.candle("BTCUSDT", "1m", t * M, true); // sent while away: nobody receives them
    let release!: () => void;
    server.candleReadGate = new Promise((resolve) => (release = resolve));
    connection.reconnected();
    await until(() => server.candleReads.length === 1, "the fetch after the reconnect");
    // Live while the fetch is in flight: held, then after the fetched ones.
    server.candle("BTCUSDT", "1m", 3 * M, true); // the server repeats one the fetch also returns
    server.candle("BTCUSDT", "1m", 4 * M, true);
    server.candle("BTCUSDT", "1m", 5 * M, false);
    server.candle("BTCUSDT", "1m", 5 * M, false);
    expect(closedMinutes()).toEqual([0]);
    release();
    await until(() => got.length === 8, "the fetched and the held candles");

    expect(server.candleReads).toEqual([0]);
    expect(got).toEqual([[0, false], [0, true], [1, false], [1, true], [2, true], [3, true], [4, true], [5, false]]);
    server.candle("BTCUSDT", "1m", 5 * M, true);
    expect(closedMinutes()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(errors).toEqual([]);
    await client.close();
  });

  it("owes the close of a bar whose in-progress update was delivered before any closed candle", async () => {
    const { server, connection, client, closedMinutes } = await candleHarness();
    server.candle("BTCUSDT", "1m", 7 * M, false);
    connection.drop();
    server.candle("BTCUSDT", "1m", 7 * M, true);
    connection.reconnected();

    await until(() => closedMinutes().length === 1, "the close of the bar in progress");
    expect(server.candleReads).toEqual([7 * M - 1]);
    await client.close();
  });

  it("pages through more missed candles than one page holds", async () => {
    const { server, connection, client, closedMinutes } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    for (let t = 1; t <= 2500; t++) server.candle("BTCUSDT", "1m", t * M, true);
    connection.reconnected();

    await until(() => closedMinutes().length === 2501, "every missed candle", 10_000);
    expect(closedMinutes()).toEqual(range(0, 2500));
    expect(server.candleReads).toEqual([0, 1000 * M, 2000 * M]);
    await client.close();
  });

  it("asks the store again when a live closed candle follows one it did not have yet, and delivers both in order", async () => {
    const { server, connection, client, closedMinutes, errors } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    server.candle("BTCUSDT", "1m", M, true);
    server.candle("BTCUSDT", "1m", 2 * M, true);
    server.beforeCandleRead = () => {
      if (server.candleReads.length === 1) {
        server.candle("BTCUSDT", "1m", 3 * M, true); // arrives live (held) while the first read is answered
        server.unstoredCandles = 2; // 2 was published live before the re-subscribe: it and 3 are stored after this read
      } else {
        server.unstoredCandles = 0;
      }
    };
    connection.reconnected();

    await until(() => closedMinutes().length === 4, "the late-stored candle and the held one");
    expect(closedMinutes()).toEqual([0, 1, 2, 3]);
    expect(server.candleReads).toEqual([0, M]);
    expect(errors).toEqual([]);
    await client.close();
  });

  it("checks the first live closed candle after a recovery that saw none against the store", async () => {
    const { server, connection, client, closedMinutes } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    server.candle("BTCUSDT", "1m", M, true);
    server.candle("BTCUSDT", "1m", 2 * M, true);
    server.unstoredCandles = 1;
    connection.reconnected();
    await until(() => closedMinutes().length === 2, "what the store had");
    server.unstoredCandles = 0;

    server.candle("BTCUSDT", "1m", 3 * M, true);
    await until(() => closedMinutes().length === 4, "the late-stored candle, then the live one");
    expect(closedMinutes()).toEqual([0, 1, 2, 3]);
    expect(server.candleReads).toEqual([0, M]);
    await client.close();
  });

  it("takes a hole the store still has after the last retry as the exchange's, and reports nothing", async () => {
    const { server, connection, client, closedMinutes, errors } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    server.candle("BTCUSDT", "1m", M, true);
    server.beforeCandleRead = () => {
      if (server.candleReads.length > 1) return;
      server.candle("BTCUSDT", "1m", 5 * M, true); // 2..4 never closed (an outage), and 5 is stored only after the retries
      server.unstoredCandles = 1;
    };
    connection.reconnected();

    await until(() => closedMinutes().length === 3, "the candles around the outage");
    expect(closedMinutes()).toEqual([0, 1, 5]);
    expect(server.candleReads).toEqual([0, M, M, M]); // three recovery delays in the harness
    expect(errors).toEqual([]);
    await client.close();
  });

  it("reports a CandleGapError when the store cannot be read after every retry, after delivering what came live", async () => {
    const { server, connection, client, closedMinutes, errors } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    server.candle("BTCUSDT", "1m", M, true);
    server.unavailableCandleReads = 4;
    server.beforeCandleRead = () => {
      if (server.candleReads.length === 1) server.candle("BTCUSDT", "1m", 2 * M, true);
    };
    connection.reconnected();

    await until(() => errors.length === 1, "the gap to be reported");
    expect(errors[0]).toBeInstanceOf(CandleGapError);
    expect((errors[0] as CandleGapError).gap).toMatchObject({ symbol: "BTCUSDT", timeframe: "1m", afterOpenTime: 0 });
    expect(errors[0]!.message).toContain("signal history is unavailable");
    expect(closedMinutes()).toEqual([0, 2]);
    server.candle("BTCUSDT", "1m", 3 * M, true);
    expect(closedMinutes()).toEqual([0, 2, 3]);
    await client.close();
  });

  it(`holds at most ${MAX_HELD_CANDLES} live closed candles while fetching, and fetches the ones past it after delivering those`, async () => {
    const { server, connection, client, closedMinutes } = await candleHarness();
    server.candle("BTCUSDT", "1m", 0, true);
    connection.drop();
    server.candle("BTCUSDT", "1m", M, true);
    let release!: () => void;
    server.candleReadGate = new Promise((resolve) => (release = resolve));
    connection.reconnected();
    await until(() => server.candleReads.length === 1, "the fetch after the reconnect");
    const live = MAX_HELD_CANDLES + 10;
    for (let t = 2; t < 2 + live; t++) server.candle("BTCUSDT", "1m", t * M, true);
    server.unstoredCandles = live; // the first read does not have the live ones yet
    server.beforeCandleRead = () => {
      if (server.candleReads.length > 1) server.unstoredCandles = 0;
    };
    server.candleReadGate = undefined;
    release();

    await until(() => closedMinutes().length === live + 2, "every candle", 10_000);
    expect(closedMinutes()).toEqual(range(0, live + 1));
    expect(server.candleReads).toEqual([0, (MAX_HELD_CANDLES + 1) * M]);
    await client.close();
  });
});

describe("candle reads after a reconnect", () => {
  it(`keeps at most ${MAX_CONCURRENT_CANDLE_READS} reads in flight however many candle streams recover`, async () => {
    const { server, connection, client } = await harness();
    const symbols = Array.from({ length: 12 }, (_, i) => `S${i}USDT`);
    const closed = new Map<string, number[]>();
    for (const symbol of symbols) {
      closed.set(symbol, []);
      await client.subscribeCandles(symbol, "1m", (c) => c.isClosed && closed.get(symbol)!.push(c.openTime));
      server.candle(symbol, "1m", 0, true);
    }
    connection.drop();
    for (const symbol of symbols) server.candle(symbol, "1m", 60_000, true);
    let release!: () => void;
    server.candleReadGate = new Promise((resolve) => (release = resolve));
    connection.reconnected();
    // Each stream reads as soon as its re-subscribe is answered: once all are, every read not held back has begun.
    await until(() => connection.candleStreams.size === symbols.length, "every stream re-subscribed");
    await until(() => server.candleReads.length === MAX_CONCURRENT_CANDLE_READS, "the first reads");
    expect(server.candleReads.length).toBe(MAX_CONCURRENT_CANDLE_READS);
    server.candleReadGate = undefined;
    release();

    await until(() => symbols.every((s) => closed.get(s)!.length === 2), "every stream's missed candle");
    expect(server.maxCandleReadsInFlight).toBe(MAX_CONCURRENT_CANDLE_READS);
    expect(server.candleReads.length).toBe(symbols.length);
    await client.close();
  });
});

describe("SignalStreamClient under random faults", () => {
  // A seeded generator keeps every run identical (and a failure reproducible) while covering many interleavings.
  function prng(seed: number) {
    let x = seed >>> 0;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
  }

  for (let seed = 1; seed <= 24; seed++) {
    it(`delivers every seq exactly once and in order through losses, duplicates, reconnects and a lagging store (seed ${seed})`, async () => {
      const random = prng(seed);
      const { server, connection, client } = await harness();
      const app = collector();
      await client.subscribe("ETHUSDT", {}, app.handlers);
      const total = 300;
      for (let i = 0; i < total; i++) {
        const next = server.latestSeq("ETHUSDT") + 1;
        const roll = random();
        if (roll < 0.08) connection.lose.add(next);
        else if (roll < 0.14) connection.duplicate.add(next);
        server.publish("ETHUSDT");
        const fault = random();
        if (fault < 0.03 && connection.state === "Connected") connection.drop();
        else if (fault < 0.05 && connection.state === "Reconnecting") {
          server.laggingResumes = Math.floor(random() * 3); // sometimes the store lags behind the resume
          connection.reconnected();
        }
        if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, 0)); // let fills and resumes interleave
      }
      if (connection.state === "Reconnecting") connection.reconnected();
      await until(() => app.signals.length >= total && (client as unknown as { channels: Map<string, unknown> }).channels.size > 0, `all ${total} signals`, 10_000);
      expect(app.seqs()).toEqual(range(1, total));
      expect(app.errors).toEqual([]);
      await client.close();
    });
  }
});
