using SignalStream.Contracts;

namespace SignalStream.Engine.Pipeline;

/// <summary>
/// The engine's view of the candle hand-off from ingest (the Hub adapts <c>CandleUpdateChannel</c> to it, so the
/// engine does not reference the ingest project). Single reader.
/// </summary>
public interface ICandleUpdateReader
{
    /// <summary>Waits until an update may be available; false once the source is completed and drained.</summary>
    ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes the next update, if any.</summary>
    bool TryRead(out CandleUpdate update);
}
