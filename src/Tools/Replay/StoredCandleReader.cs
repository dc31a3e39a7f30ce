using System.Threading.Channels;
using SignalStream.Contracts;
using SignalStream.Engine.Pipeline;

namespace SignalStream.Tools.Replay;

/// <summary>
/// Feeds stored closed candles to the engine one at a time: the next one is handed out only after the engine has
/// emitted the previous one (<see cref="Acknowledge"/>, called by <see cref="ReplayProgress"/>, the last output). Lock
/// step makes the replay deterministic: the clock is exactly the candle's, every inference batch holds one row, and
/// the signal stage sees the candles in stored order, whatever the machine's timing.
/// </summary>
internal sealed class StoredCandleReader(ChannelReader<CandleUpdate> source, ReplayClock clock) : ICandleUpdateReader
{
    private readonly SemaphoreSlim _emitted = new(0, 1);
    private bool _inFlight;

    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (_inFlight)
        {
            await _emitted.WaitAsync(cancellationToken).ConfigureAwait(false);
            _inFlight = false;
        }

        return await source.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
    }

    public bool TryRead(out CandleUpdate update)
    {
        if (_inFlight || !source.TryRead(out update))
        {
            update = default;
            return false;
        }

        clock.Set(update.ReceivedAt);
        _inFlight = true;
        return true;
    }

    /// <summary>The engine has emitted the candle handed out last.</summary>
    public void Acknowledge() => _emitted.Release();
}
