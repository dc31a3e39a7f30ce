using SignalStream.Contracts;
using SignalStream.Engine.Pipeline;
using SignalStream.EventStore;
using SignalStream.Ingest;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// Gives the engine pipeline the ingest channel through the engine's own <see cref="ICandleUpdateReader"/>, so the
/// engine project does not reference ingest (references point one way: Contracts ← Ingest, Engine ← Hub).
/// </summary>
/// <remarks>
/// It also holds back live candles at or before a stream's stored watermark (<see cref="CandleWatermarks"/>): after a
/// restart a source may offer again what the engine handled before (a simulated market restarts its clock at wall
/// time), and a candle must never be signalled twice. Warm-up history passes: the features need it; the event writer
/// keeps it from being stored twice.
/// </remarks>
internal sealed class CandleChannelReader(CandleUpdateChannel channel, CandleWatermarks watermarks) : ICandleUpdateReader
{
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

    public bool TryRead(out CandleUpdate update)
    {
        while (channel.TryRead(out update))
        {
            if (update.Origin == CandleOrigin.History || !watermarks.Covers(update.Candle.Stream, update.Candle.OpenTime))
            {
                return true;
            }
        }

        return false;
    }
}
