namespace SignalStream.Ingest.Binance.Internal;

/// <summary>
/// Why a WebSocket connection ended; the <c>reason</c> label of <c>signalstream_ingest_reconnects_total</c> (in this
/// order: <c>closed</c>, <c>server_shutdown</c>, <c>rotated</c>, <c>silent</c>, <c>network</c>, <c>message_too_large</c>,
/// <c>fault</c>).
/// </summary>
internal enum ConnectionEnd
{
    /// <summary>The exchange closed the WebSocket.</summary>
    Closed,

    /// <summary>The exchange announced <c>serverShutdown</c>: reconnect at once.</summary>
    ServerShutdown,

    /// <summary>The connection reached its lifetime and was replaced (Binance cuts at 24 h).</summary>
    Rotated,

    /// <summary>Nothing arrived for the no-data timeout.</summary>
    Silent,

    /// <summary>Connecting or the connection failed: socket, TLS, HTTP upgrade, WebSocket protocol, timeouts.</summary>
    Network,

    /// <summary>A message longer than <see cref="BinanceOptions.MaxMessageBytes"/>: a protocol error.</summary>
    MessageTooLarge,

    /// <summary>Any other exception: a bug or an input nobody foresaw; logged as an error, and the connection is replaced.</summary>
    Fault,
}
