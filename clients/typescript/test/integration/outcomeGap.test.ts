import { HubConnectionBuilder } from "@microsoft/signalr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, HubNames, LogLevel, OutcomeGapError, SignalGapError, SignalStreamApi, type SignalStreamClient, type SubscribeResult } from "../../src/index.js";
import { CuttableProxy } from "../support/proxy.js";
import { type RunningServer, startServer, waitFor, waitForFirstSignal, PERMISSIVE_DECISIONS } from "../support/server.js";

// More outcomes missed than the node resumes (Hub:MaxRecoverySignals): the SDK delivers the newest it gets, in order,
// then tells the application with an OutcomeGapError, and goes on live. A node of its own, as its resume limit (3, for
// signals too) would make server.test.ts's resumes lose signals. Permissive decision settings, as there, so that
// signals, and their outcomes, come quickly.
const SYMBOL = "BTCUSDT";
const LIMIT = 3;
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ speed: 600, extraArgs: [...PERMISSIVE_DECISIONS, `--Hub:MaxRecoverySignals=${LIMIT}`] });
  await waitForFirstSignal(server);
});

afterAll(async () => {
  await server?.stop();
});

/** The node's newest outcomeSeq of the symbol, asked on a connection of its own (the REST page would need paging to it). */
async function latestOutcomeSeq(url: string): Promise<number> {
  const probe = new HubConnectionBuilder().withUrl(`${url}${HubNames.Path}`).configureLogging(LogLevel.None).build();
  await probe.start();
  try {
    return (await probe.invoke<SubscribeResult>(HubNames.Subscribe, { symbol: SYMBOL })).latestOutcomeSeq;
  } finally {
    await probe.stop();
  }
}

describe("the SDK against a node whose resume limit is smaller than what was missed", () => {
  it("delivers the newest outcomes it can recover in order, reports the rest as an OutcomeGapError, and goes on live", async () => {
    const proxy = await CuttableProxy.start(server.port);
    const client: SignalStreamClient = await connect(proxy.url, {
      reconnect: { delaysMs: [0, 250, 500] },
      recoveryRetryDelaysMs: [50, 100],
      logger: LogLevel.None,
    });
    try {
      const outcomeSeqs: number[] = [];
      const errors: Error[] = [];
      await client.subscribe(SYMBOL, {}, {
        onSignal: () => {},
        onResolved: (outcome) => outcomeSeqs.push(outcome.outcomeSeq),
        onError: (error) => errors.push(error),
      });
      await waitFor(() => outcomeSeqs.length >= 2, "2 outcomes before the cut", 90_000);

      proxy.cut();
      await waitFor(() => client.state === "reconnecting", "the client to notice the cut", 30_000);
      const seenAtCut = outcomeSeqs.at(-1)!;
      await waitFor(async () => (await latestOutcomeSeq(server.url)) >= seenAtCut + LIMIT + 3,
        `more than ${LIMIT} outcomes resolved during the cut`, 90_000);

      proxy.restore();
      await waitFor(() => errors.some((e) => e instanceof OutcomeGapError), "the OutcomeGapError", 30_000).catch((e: Error) => {
        throw new Error(`${e.message}; state ${client.state}, outcomes ${outcomeSeqs.slice(0, 12).join(",")}…${outcomeSeqs.at(-1)}, errors ${errors.map((x) => x.message).join(" | ")}`);
      });
      const gap = (errors.find((e) => e instanceof OutcomeGapError) as OutcomeGapError).gap;
      await waitFor(() => outcomeSeqs.at(-1)! >= gap.latestOutcomeSeq + 3, "live outcomes after the gap", 90_000);

      expect(gap).toMatchObject({ symbol: SYMBOL, afterOutcomeSeq: seenAtCut });
      expect(gap.latestOutcomeSeq).toBeGreaterThanOrEqual(seenAtCut + LIMIT + 3);
      expect(gap.reason).toContain(`more than the resume limit of ${LIMIT}`);
      // Before the cut every one; after it the newest LIMIT the node returned, then live ones: each once, in order.
      const before = outcomeSeqs.filter((seq) => seq <= seenAtCut);
      const after = outcomeSeqs.filter((seq) => seq > seenAtCut);
      expect(before).toEqual(Array.from({ length: before.length }, (_, i) => before[0]! + i));
      expect(after).toEqual(Array.from({ length: after.length }, (_, i) => gap.latestOutcomeSeq - LIMIT + 1 + i));
      // Signals past the same limit are reported as theirs; nothing else went wrong.
      expect(errors.filter((e) => !(e instanceof OutcomeGapError) && !(e instanceof SignalGapError))).toEqual([]);
      expect(errors.filter((e) => e instanceof OutcomeGapError)).toHaveLength(1);
      // What the error says was not recovered is a REST page away: with what was delivered, every outcome once.
      const page = await new SignalStreamApi(server.url).outcomes(SYMBOL, { afterOutcomeSeq: gap.afterOutcomeSeq, limit: 1000 });
      const missed = page.map((o) => o.outcomeSeq).filter((seq) => seq <= gap.latestOutcomeSeq - LIMIT);
      expect([...missed, ...after.filter((seq) => seq <= gap.latestOutcomeSeq)]).toEqual(
        Array.from({ length: gap.latestOutcomeSeq - gap.afterOutcomeSeq }, (_, i) => gap.afterOutcomeSeq + 1 + i));
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
