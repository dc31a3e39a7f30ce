export {
  connect,
  SignalStreamClient,
  SignalGapError,
  OutcomeGapError,
  SignalHistoryResetError,
  SubscriptionError,
  type CandleOptions,
  type CandleSubscription,
  type OutcomeGap,
  type ConnectionState,
  type SignalFilter,
  type SignalHandlers,
  type SignalInfo,
  type Subscription,
} from "./client.js";
export {
  type ConnectOptions,
  type HubConnectionLike,
  type HubProtocolName,
  type ReconnectOptions,
  DEFAULT_RECONNECT_DELAYS_MS,
  DEFAULT_RECOVERY_RETRY_DELAYS_MS,
  LogLevel,
} from "./connection.js";
export { type Delivery, type PositionReset, type SeqGap, type SignalSource, SignalSequencer } from "./sequencer.js";
export { CandleGapError, type CandleGap, type CandleHandlers, MAX_CONCURRENT_CANDLE_READS, MAX_HELD_CANDLES } from "./candles.js";
export { ApiError, type ApiOptions, SignalStreamApi, type SymbolInfo } from "./api.js";
export * from "./types.js";
