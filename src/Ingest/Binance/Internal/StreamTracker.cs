using SignalStream.Contracts;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>
/// Per-stream delivery state. Only the connection that owns the stream touches it (frames of one stream arrive on one
/// connection), so it needs no locks.
/// </summary>
internal sealed class StreamTracker(StreamKey key)
{
    /// <summary>Sentinel for "nothing delivered yet".</summary>
    public const long None = long.MinValue;

    public StreamKey Key { get; } = key;

    /// <summary>The stream name Binance uses: lower-case symbol, <c>@kline_</c>, interval.</summary>
    public string StreamName { get; } = $"{key.Symbol.ToLowerInvariant()}@kline_{key.Timeframe.ToName()}";

    /// <summary>Open time of the last closed candle delivered to the channel.</summary>
    public long LastClosedOpenTime { get; set; } = None;

    /// <summary>Open time of the newest candle seen in progress (for the late-close check).</summary>
    public long CurrentOpenTime { get; set; } = None;

    /// <summary>The connection that receives this stream's frames; frames arriving on any other are not trusted.</summary>
    public BinanceConnection? Owner { get; set; }

    /// <summary>The open time of the candle that must be delivered next, or <see cref="None"/> before the first.</summary>
    public long NextExpectedOpenTime => LastClosedOpenTime == None ? None : Key.Timeframe.NextOpenTime(LastClosedOpenTime);

    /// <summary>The open time of the candle before the one that opened at <paramref name="openTime"/>.</summary>
    public long PreviousOpenTime(long openTime) => Key.Timeframe.OpenTimeOf(openTime - 1);
}
