import {
  HubConnectionBuilder,
  HubConnectionState,
  type ILogger,
  type IRetryPolicy,
  LogLevel,
  type RetryContext,
} from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { HubNames } from "./types.js";

/**
 * The part of `@microsoft/signalr`'s `HubConnection` the client uses. A real `HubConnection` satisfies it as is;
 * tests pass a fake through {@link ConnectOptions.connectionFactory}.
 */
export interface HubConnectionLike {
  readonly state: HubConnectionState | `${HubConnectionState}`;
  start(): Promise<void>;
  stop(): Promise<void>;
  invoke<T = unknown>(methodName: string, ...args: unknown[]): Promise<T>;
  on(methodName: string, handler: (...args: any[]) => void): void;
  onclose(callback: (error?: Error) => void): void;
  onreconnecting(callback: (error?: Error) => void): void;
  onreconnected(callback: (connectionId?: string) => void): void;
}

/** How the client retries after the connection drops. */
export interface ReconnectOptions {
  /** Waits before each attempt, in ms; the last one repeats forever. Default `[0, 1000, 2000, 5000, 10000]`. */
  delaysMs?: number[];
}

/** SignalR's hub protocols: `json` (text frames, readable in a browser's developer tools) or `msgpack` (binary, smaller). */
export type HubProtocolName = "json" | "msgpack";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * The hub protocol. Default `"json"`. `"msgpack"` uses SignalR's MessagePack protocol (binary frames; WebSockets or
   * long polling, not Server-Sent Events); the server must list `messagepack` in `Hub:Protocols`, as it does by default.
   * The application gets the same objects either way.
   */
  protocol?: HubProtocolName;
  /** Returns the JWT to send (`access_token` query for WebSockets); called for every (re)connect, so it may refresh. */
  accessTokenFactory?: () => string | Promise<string>;
  /** A SignalR logger, or the minimum level for the console logger. Default: warnings. */
  logger?: ILogger | LogLevel;
  /** `false` to stay disconnected after a drop; otherwise retry forever. Default `true`. */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Waits before asking again when the server could not return every missed signal yet (`recovered: false`, for
   * example while its store catches up). After the last one the missing seqs are reported as a `SignalGapError` and
   * skipped. Default `[100, 250, 500, 1000, 2000]`.
   */
  recoveryRetryDelaysMs?: number[];
  /**
   * The `fetch` for the REST reads the client makes itself (closed candles missed while reconnecting, from
   * `/api/candles`, with `accessTokenFactory`'s token). Default the global one.
   */
  fetch?: typeof fetch;
  /** Builds the connection; for tests and custom transports. Default: `@microsoft/signalr`'s `HubConnectionBuilder`. */
  connectionFactory?: (hubUrl: string, options: ConnectOptions, retryPolicy: IRetryPolicy | undefined) => HubConnectionLike;
}

export const DEFAULT_RECOVERY_RETRY_DELAYS_MS: readonly number[] = [100, 250, 500, 1000, 2000];

export const DEFAULT_RECONNECT_DELAYS_MS: readonly number[] = [0, 1000, 2000, 5000, 10000];

/** The retry waits of `options.reconnect`, or undefined when reconnecting is off. */
export function reconnectDelays(options: ConnectOptions): readonly number[] | undefined {
  if (options.reconnect === false) return undefined;
  const delays = typeof options.reconnect === "object" ? options.reconnect.delaysMs : undefined;
  if (delays !== undefined && (delays.length === 0 || delays.some((d) => !(d >= 0)))) {
    throw new Error("reconnect.delaysMs must be a non-empty list of waits in ms, each 0 or more");
  }
  return delays ?? DEFAULT_RECONNECT_DELAYS_MS;
}

/** A retry policy that never gives up: SignalR's default stops after four attempts. */
export function foreverRetryPolicy(delays: readonly number[]): IRetryPolicy {
  return {
    nextRetryDelayInMilliseconds: (context: RetryContext) =>
      delays[Math.min(context.previousRetryCount, delays.length - 1)] ?? 0,
  };
}

/** Accepts the server's base URL (`http://host:5080`) or the hub's (`…/hubs/signals`). */
export function hubUrlOf(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return trimmed.endsWith(HubNames.Path) ? trimmed : trimmed + HubNames.Path;
}

/** `options.protocol`, checked: a typo must not silently fall back to JSON. */
export function hubProtocolOf(options: ConnectOptions): HubProtocolName {
  const protocol = options.protocol ?? "json";
  if (protocol !== "json" && protocol !== "msgpack") {
    throw new Error(`protocol is ${JSON.stringify(protocol)}; use "json" or "msgpack"`);
  }
  return protocol;
}

/** The default factory: a `HubConnection` speaking `options.protocol`, with automatic reconnect. */
export function createSignalRConnection(
  hubUrl: string,
  options: ConnectOptions,
  retryPolicy: IRetryPolicy | undefined,
): HubConnectionLike {
  let builder = new HubConnectionBuilder()
    .withUrl(hubUrl, options.accessTokenFactory ? { accessTokenFactory: options.accessTokenFactory } : {})
    .configureLogging(options.logger ?? LogLevel.Warning);
  if (hubProtocolOf(options) === "msgpack") builder = builder.withHubProtocol(new MessagePackHubProtocol());
  if (retryPolicy) builder = builder.withAutomaticReconnect(retryPolicy);
  return builder.build();
}

export { HubConnectionState, LogLevel };
