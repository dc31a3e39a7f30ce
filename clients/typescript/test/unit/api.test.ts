import { describe, expect, it } from "vitest";
import { ApiError, SignalStreamApi } from "../../src/index.js";

function fakeFetch(status: number, body: string, seen: Array<{ url: string; headers: Record<string, string> }>): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push({ url: String(input), headers: (init?.headers ?? {}) as Record<string, string> });
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
}

describe("SignalStreamApi", () => {
  it("builds query strings and sends the bearer token", async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    const api = new SignalStreamApi("http://host:5080/", { fetch: fakeFetch(200, "[]", seen), accessTokenFactory: () => "t0k" });
    await api.signals("BTCUSDT", { afterSeq: 7, limit: 50 });
    await api.latestSignals("ETHUSDT");
    expect(seen.map((s) => s.url)).toEqual([
      "http://host:5080/api/signals?symbol=BTCUSDT&afterSeq=7&limit=50",
      "http://host:5080/api/signals/latest?symbol=ETHUSDT",
    ]);
    expect(seen[0]!.headers.authorization).toBe("Bearer t0k");
  });

  it("pages a candle stream's closed candles after an openTime", async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    const body = JSON.stringify([{ symbol: "BTCUSDT", timeframe: "1m", openTime: 120_000, closeTime: 179_999, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3, isClosed: true }]);
    const api = new SignalStreamApi("http://host:5080", { fetch: fakeFetch(200, body, seen) });
    const page = await api.candles("BTCUSDT", "1m", { afterOpenTime: 60_000, limit: 500 });
    await api.candles("ETHUSDT", "4h");
    expect(seen.map((s) => s.url)).toEqual([
      "http://host:5080/api/candles?symbol=BTCUSDT&timeframe=1m&afterOpenTime=60000&limit=500",
      "http://host:5080/api/candles?symbol=ETHUSDT&timeframe=4h",
    ]);
    expect(page.map((c) => [c.openTime, c.isClosed])).toEqual([[120_000, true]]);
  });

  it("turns a problem-details answer into an error that carries its detail", async () => {
    const body = JSON.stringify({ title: "Invalid parameter 'symbol'", status: 400, detail: "'NOPE' is not a served symbol." });
    const api = new SignalStreamApi("", { fetch: fakeFetch(400, body, []) });
    const error = await api.symbols().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toBe("GET /api/symbols failed with 400: 'NOPE' is not a served symbol.");
  });
});
