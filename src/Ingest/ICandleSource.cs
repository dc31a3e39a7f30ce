using SignalStream.Contracts;

namespace SignalStream.Ingest;

/// <summary>A source of candle updates: a live exchange, the market simulator, or a recorded file.</summary>
/// <remarks>
/// A source first writes warm-up history (closed candles with origin <see cref="CandleOrigin.History"/>) so the
/// engine's features are full at start, then live updates until cancelled.
/// Closed candles go through <see cref="CandleUpdateChannel.WriteClosedAsync"/> exactly once and in order per stream.
/// </remarks>
public interface ICandleSource
{
    /// <summary>Lower-case exchange name used in events and metric labels (<c>binance</c>, <c>simulated</c>, <c>replay</c>).</summary>
    string Exchange { get; }

    /// <summary>Runs until <paramref name="cancellationToken"/> fires; recovers from its own faults.</summary>
    Task RunAsync(CandleUpdateChannel output, CancellationToken cancellationToken);
}
