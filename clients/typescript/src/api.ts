import type { CandleMessage, ModelInfo, PerformanceReport, Signal, SignalOutcome, Timeframe } from "./types.js";

/** One row of `/api/symbols`. */
export interface SymbolInfo {
  symbol: string;
  /** The timeframes the server publishes for it (Binance interval names). */
  timeframes: string[];
  /** The symbol's newest signal seq (0 before the first). */
  latestSeq: number;
}

/** Options of {@link SignalStreamApi}. */
export interface ApiOptions {
  /** Returns the JWT sent as `Authorization: Bearer …`. */
  accessTokenFactory?: () => string | Promise<string>;
  /** A `fetch` implementation; default the global one (browsers, Node 18+). */
  fetch?: typeof fetch;
}

/** A failed REST call: the status and the server's message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly path: string, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/** The server's REST API (`/api/…`), typed. */
export class SignalStreamApi {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  /** @param baseUrl The server's base URL, for example `http://localhost:5080`; empty for the page's own origin. */
  constructor(baseUrl: string, private readonly options: ApiOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The symbols this caller may subscribe to, with their timeframes and newest seq. */
  symbols(): Promise<SymbolInfo[]> {
    return this.get<SymbolInfo[]>("/api/symbols");
  }

  /** Loaded models. */
  models(): Promise<ModelInfo[]> {
    return this.get<ModelInfo[]>("/api/models");
  }

  /** Live journal statistics. */
  performance(): Promise<PerformanceReport> {
    return this.get<PerformanceReport>("/api/performance");
  }

  /** Stored signals of a symbol after `afterSeq`, oldest first. */
  signals(symbol: string, query: { afterSeq?: number; limit?: number } = {}): Promise<Signal[]> {
    const params = new URLSearchParams({ symbol });
    if (query.afterSeq !== undefined) params.set("afterSeq", String(query.afterSeq));
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    return this.get<Signal[]>(`/api/signals?${params}`);
  }

  /** Stored outcomes of a symbol after `afterOutcomeSeq`, oldest first: what an `OutcomeGapError` says was not recovered. */
  outcomes(symbol: string, query: { afterOutcomeSeq?: number; limit?: number } = {}): Promise<SignalOutcome[]> {
    const params = new URLSearchParams({ symbol });
    if (query.afterOutcomeSeq !== undefined) params.set("afterOutcomeSeq", String(query.afterOutcomeSeq));
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    return this.get<SignalOutcome[]>(`/api/outcomes?${params}`);
  }

  /**
   * Stored closed candles of a stream with `openTime > afterOpenTime` (Unix ms), oldest first, at most `limit` (default
   * 100, at most 1000), in the shape of the live `candle` event (`isClosed: true`): the closed candles sent while a
   * client was away. Page on with the last one's `openTime` until a page is shorter than `limit`.
   */
  candles(symbol: string, timeframe: Timeframe, query: { afterOpenTime?: number; limit?: number } = {}): Promise<CandleMessage[]> {
    const params = new URLSearchParams({ symbol, timeframe });
    if (query.afterOpenTime !== undefined) params.set("afterOpenTime", String(query.afterOpenTime));
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    return this.get<CandleMessage[]>(`/api/candles?${params}`);
  }

  /** The latest signal per timeframe of a symbol. */
  latestSignals(symbol: string): Promise<Signal[]> {
    return this.get<Signal[]>(`/api/signals/latest?${new URLSearchParams({ symbol })}`);
  }

  private async get<T>(path: string): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = await this.options.accessTokenFactory?.();
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await this.fetchImpl(this.baseUrl + path, { headers });
    if (!response.ok) {
      const body = await response.text().catch(() => "");
      throw new ApiError(response.status, path, `GET ${path} failed with ${response.status}${describe(body)}`);
    }
    return (await response.json()) as T;
  }
}

/** The server answers errors as RFC 9457 problem details: show their `detail` (or `title`) rather than raw JSON. */
function describe(body: string): string {
  if (body === "") return "";
  try {
    const problem = JSON.parse(body) as { detail?: unknown; title?: unknown };
    const text = typeof problem.detail === "string" ? problem.detail : typeof problem.title === "string" ? problem.title : undefined;
    if (text !== undefined) return `: ${text}`;
  } catch {
    // Not JSON: show the start of the body as it is.
  }
  return `: ${body.slice(0, 300)}`;
}
