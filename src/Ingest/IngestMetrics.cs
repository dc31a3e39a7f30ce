using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using SignalStream.Ingest.Binance.Internal;

namespace SignalStream.Ingest;

/// <summary>
/// The ingest instruments on the <c>SignalStream.Ingest</c> meter (names are DESIGN.md section 4's), shared by every
/// source: each source creates one for its exchange label, and a process runs one source.
/// </summary>
/// <remarks>
/// Labels are bounded: exchange is the source's fixed name, reason is a <see cref="FrameRejection"/> name (rejected
/// frames) or a <see cref="ConnectionEnd"/> (reconnects).
/// <c>signalstream_candles_closed_total</c> is not here: the engine pipeline records it once per closed candle.
/// </remarks>
internal sealed class IngestMetrics
{
    public const string MeterName = "SignalStream.Ingest";

    private static readonly string[] s_reasons = Enum.GetNames<FrameRejection>();
    private static readonly string[] s_endings = ["closed", "server_shutdown", "rotated", "silent", "network", "message_too_large", "fault"];

    private readonly KeyValuePair<string, object?> _exchange;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _backfilled;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;

    /// <param name="meterFactory">The host's meter factory.</param>
    /// <param name="channel">The channel whose closed-candle depth is observed.</param>
    /// <param name="exchange">The source's exchange label (<c>binance</c>, <c>simulated</c>, <c>replay</c>).</param>
    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public IngestMetrics(IMeterFactory meterFactory, CandleUpdateChannel channel, string exchange)
    {
        _exchange = new("exchange", exchange);
        var meter = meterFactory.Create(MeterName);
        _messages = meter.CreateCounter<long>("signalstream_ingest_messages_total", description: "Messages received from the exchange (WebSocket frames; one per update for the simulated and replay sources).");
        _backfilled = meter.CreateCounter<long>("signalstream_backfilled_candles_total", description: "Closed candles recovered from REST after a gap, a late close or a reconnect.");
        _reconnects = meter.CreateCounter<long>("signalstream_ingest_reconnects_total", description: "WebSocket connections replaced, by reason (closed, server_shutdown, rotated, silent, network, message_too_large, fault).");
        _rejected = meter.CreateCounter<long>("signalstream_ingest_frames_rejected_total", description: "Messages that were malformed, unexpected or for unknown streams.");
        _duplicates = meter.CreateCounter<long>("signalstream_ingest_duplicates_dropped_total", description: "Closed frames dropped because the candle was already delivered.");
        meter.CreateObservableGauge("signalstream_ingest_channel_depth", () => channel.ClosedQueued,
            description: "Closed candles waiting between ingest and the engine.");
    }

    public void MessageReceived() => _messages.Add(1, _exchange);

    public void Backfilled(int count) => _backfilled.Add(count, _exchange);

    public void Reconnected(ConnectionEnd reason) =>
        _reconnects.Add(1, _exchange, new KeyValuePair<string, object?>("reason", s_endings[(int)reason]));

    public void Rejected(FrameRejection reason) =>
        _rejected.Add(1, _exchange, new KeyValuePair<string, object?>("reason", s_reasons[(int)reason]));

    public void DuplicateDropped() => _duplicates.Add(1, _exchange);
}
