namespace SignalStream.Ingest.Binance;

/// <summary>The <c>Ingest:Binance</c> configuration section: where Binance is and how politely we talk to it.</summary>
/// <remarks>
/// Defaults follow binance/binance-spot-api-docs <c>web-socket-streams.md</c>: at most 1024 streams and 5 incoming
/// messages a second per connection (pings, pongs and JSON control messages all count), 300 connection attempts per
/// 5 minutes per IP, and a 24 hour connection lifetime. See <c>docs/binance.md</c>.
/// </remarks>
public sealed class BinanceOptions
{
    public const string SectionName = "Ingest:Binance";

    /// <summary>WebSocket base URL; combined streams are opened at <c>{StreamUrl}/stream?streams=…</c>.</summary>
    public string StreamUrl { get; set; } = "wss://stream.binance.com:9443";

    /// <summary>REST base URL for <c>GET /api/v3/klines</c> (warm-up and backfill).</summary>
    public string RestUrl { get; set; } = "https://api.binance.com";

    /// <summary>Streams per WebSocket connection; Binance allows 1024.</summary>
    public int MaxStreamsPerConnection { get; set; } = 1024;

    /// <summary>Messages a connection may send in any one second (Binance disconnects above 5; pongs count).</summary>
    public int MaxOutgoingMessagesPerSecond { get; set; } = 5;

    /// <summary>New connections in any 5 minutes (Binance allows 300 per IP).</summary>
    public int MaxConnectionsPerFiveMinutes { get; set; } = 300;

    /// <summary>A connection is replaced after this long; Binance cuts every connection at 24 hours.</summary>
    public TimeSpan ConnectionLifetime { get; set; } = TimeSpan.FromHours(23);

    /// <summary>A connection that delivers no message for this long is considered dead and replaced.</summary>
    public TimeSpan NoDataTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long after a candle's close time (measured on the exchange's clock, the frames' <c>E</c>) its closed frame
    /// may be late before the candle is fetched from REST instead.
    /// </summary>
    public TimeSpan ClosedCandleGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="ReconnectDelayMax"/>, with jitter.</summary>
    public TimeSpan ReconnectDelayMin { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest reconnect (and REST retry) delay.</summary>
    public TimeSpan ReconnectDelayMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Streams named in one SUBSCRIBE/UNSUBSCRIBE message.</summary>
    public int StreamsPerSubscribeMessage { get; set; } = 200;

    /// <summary>Longest <c>/stream?streams=…</c> URL we open; streams beyond it are added with SUBSCRIBE.</summary>
    public int MaxUrlLength { get; set; } = 4000;

    /// <summary>Concurrent REST requests during warm-up.</summary>
    public int RestParallelism { get; set; } = 4;

    /// <summary>Initial size of each connection's pooled receive buffer (it grows for larger messages, up to <see cref="MaxMessageBytes"/>).</summary>
    public int ReceiveBufferBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// Largest WebSocket message (all its frames together) a connection accepts. A longer one is a protocol error: the
    /// connection is dropped, counted, and replaced after a backoff; the streams it carried are backfilled from REST.
    /// </summary>
    /// <remarks>
    /// Binance's largest messages are a combined kline event (about 600 bytes) and a LIST_SUBSCRIPTIONS reply for 1024
    /// streams (about 26 KB); 1 MiB leaves a margin of 40 times the largest.
    /// </remarks>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Largest REST response body read. A longer one is abandoned at the bound (the rest is never read) and the request
    /// is retried with the reconnect backoff, like a malformed one.
    /// </summary>
    /// <remarks>The largest reply we ask for, a page of 1000 klines, is about 200 KB; 4 MiB leaves a margin of 20 times.</remarks>
    public int MaxRestResponseBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        foreach (var (name, value, schemes) in new[]
                 {
                     (nameof(StreamUrl), StreamUrl, new[] { "ws", "wss" }),
                     (nameof(RestUrl), RestUrl, new[] { "http", "https" }),
                 })
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme))
            {
                yield return $"{SectionName}:{name} is '{value}'; it must be an absolute {string.Join(" or ", schemes)} URL, for example " +
                             (name == nameof(StreamUrl) ? "wss://stream.binance.com:9443." : "https://api.binance.com.");
            }
        }

        if (MaxStreamsPerConnection is < 1 or > 1024)
        {
            yield return $"{SectionName}:MaxStreamsPerConnection is {MaxStreamsPerConnection}; Binance allows 1 to 1024 streams a connection.";
        }

        if (MaxOutgoingMessagesPerSecond is < 2 or > 5)
        {
            yield return $"{SectionName}:MaxOutgoingMessagesPerSecond is {MaxOutgoingMessagesPerSecond}; use 2 to 5 " +
                         "(Binance disconnects above 5, and one message a second is kept for pongs).";
        }

        if (MaxConnectionsPerFiveMinutes is < 1 or > 300)
        {
            yield return $"{SectionName}:MaxConnectionsPerFiveMinutes is {MaxConnectionsPerFiveMinutes}; Binance allows 1 to 300.";
        }

        if (ConnectionLifetime <= TimeSpan.Zero || ConnectionLifetime >= TimeSpan.FromHours(24))
        {
            yield return $"{SectionName}:ConnectionLifetime is {ConnectionLifetime}; it must be positive and under 24:00:00 (Binance's cut).";
        }

        if (NoDataTimeout < TimeSpan.FromMilliseconds(100))
        {
            yield return $"{SectionName}:NoDataTimeout is {NoDataTimeout}; use at least 00:00:00.1 (kline streams update every 1-2 s).";
        }

        if (ClosedCandleGracePeriod < TimeSpan.Zero)
        {
            yield return $"{SectionName}:ClosedCandleGracePeriod is {ClosedCandleGracePeriod}; it must not be negative.";
        }

        if (ReconnectDelayMin <= TimeSpan.Zero || ReconnectDelayMax < ReconnectDelayMin)
        {
            yield return $"{SectionName}:ReconnectDelayMin/ReconnectDelayMax are {ReconnectDelayMin}/{ReconnectDelayMax}; the minimum must be positive and not above the maximum.";
        }

        if (StreamsPerSubscribeMessage < 1)
        {
            yield return $"{SectionName}:StreamsPerSubscribeMessage is {StreamsPerSubscribeMessage}; it must be at least 1.";
        }

        if (MaxUrlLength < 256)
        {
            yield return $"{SectionName}:MaxUrlLength is {MaxUrlLength}; it must be at least 256.";
        }

        if (RestParallelism is < 1 or > 64)
        {
            yield return $"{SectionName}:RestParallelism is {RestParallelism}; use 1 to 64.";
        }

        if (ReceiveBufferBytes is < 1024 or > 16 * 1024 * 1024)
        {
            yield return $"{SectionName}:ReceiveBufferBytes is {ReceiveBufferBytes}; use 1024 to 16777216.";
        }

        if (MaxMessageBytes is < 4096 or > 64 * 1024 * 1024)
        {
            yield return $"{SectionName}:MaxMessageBytes is {MaxMessageBytes}; use 4096 to 67108864 (Binance's largest message is about 26 KB).";
        }
        else if (ReceiveBufferBytes > MaxMessageBytes)
        {
            yield return $"{SectionName}:ReceiveBufferBytes ({ReceiveBufferBytes}) is above MaxMessageBytes ({MaxMessageBytes}); the first buffer cannot be larger than the largest message.";
        }

        if (MaxRestResponseBytes is < 1024 * 1024 or > 256 * 1024 * 1024)
        {
            yield return $"{SectionName}:MaxRestResponseBytes is {MaxRestResponseBytes}; use 1048576 to 268435456 (a page of 1000 klines, the largest reply, is about 200 KB).";
        }
    }
}
