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
/// keeps it from being stored twice. A closed candle past the stored watermark whose decision is stored
/// (<see cref="CandleWatermarks.WasDecided"/>: a crash between its signal's commit and its own) passes as history: stored,
/// never decided again.
/// </remarks>
internal sealed class CandleChannelReader(CandleUpdateChannel channel, CandleWatermarks watermarks) : ICandleUpdateReader
{
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

    public bool TryRead(out CandleUpdate update)
    {
        while (channel.TryRead(out update))
        {
            if (update.Origin == CandleOrigin.History)
            {
                return true;
            }

            var stream = update.Candle.Stream;
            var openTime = update.Candle.OpenTime;
            if (watermarks.Covers(stream, openTime))
            {
                continue;
            }

            if (watermarks.WasDecided(stream, openTime))
            {
                if (!update.IsClosed)
                {
                    continue;
                }

                // Decided before a crash that came before its own commit: stored now, as history, and decided nothing.
                update = update with { Origin = CandleOrigin.History };
            }

            return true;
        }

        return false;
    }
}
