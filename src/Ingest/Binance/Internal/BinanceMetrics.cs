using System.Diagnostics.Metrics;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>The Binance source's instruments on the <c>SignalStream.Ingest</c> meter (names are DESIGN.md section 4's).</summary>
/// <remarks>Labels are bounded: exchange is always <c>binance</c>, reason is a <see cref="FrameRejection"/> name.</remarks>
internal sealed class BinanceMetrics
{
    public const string MeterName = "SignalStream.Ingest";

    private static readonly KeyValuePair<string, object?> s_exchange = new("exchange", BinanceCandleSource.ExchangeName);
    private static readonly string[] s_reasons = Enum.GetNames<FrameRejection>();

    private readonly Counter<long> _messages;
    private readonly Counter<long> _backfilled;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;

    public BinanceMetrics(IMeterFactory meterFactory, CandleUpdateChannel channel)
    {
        var meter = meterFactory.Create(MeterName);
        _messages = meter.CreateCounter<long>("signalstream_ingest_messages_total", description: "WebSocket messages received from the exchange.");
        _backfilled = meter.CreateCounter<long>("signalstream_backfilled_candles_total", description: "Closed candles recovered from REST after a gap, a late close or a reconnect.");
        _reconnects = meter.CreateCounter<long>("signalstream_ingest_reconnects_total", description: "WebSocket connections replaced (faults, rotation, serverShutdown).");
        _rejected = meter.CreateCounter<long>("signalstream_ingest_frames_rejected_total", description: "Messages that were malformed, unexpected or for unknown streams.");
        _duplicates = meter.CreateCounter<long>("signalstream_ingest_duplicates_dropped_total", description: "Closed frames dropped because the candle was already delivered.");
        meter.CreateObservableGauge("signalstream_ingest_channel_depth", () => channel.ClosedQueued,
            description: "Closed candles waiting between ingest and the engine.");
    }

    public void MessageReceived() => _messages.Add(1, s_exchange);

    public void Backfilled(int count) => _backfilled.Add(count, s_exchange);

    public void Reconnected() => _reconnects.Add(1, s_exchange);

    public void Rejected(FrameRejection reason) =>
        _rejected.Add(1, s_exchange, new KeyValuePair<string, object?>("reason", s_reasons[(int)reason]));

    public void DuplicateDropped() => _duplicates.Add(1, s_exchange);
}
