using SignalStream.Contracts;
using SignalStream.Engine.Pipeline;
using SignalStream.Ingest;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// Gives the engine pipeline the ingest channel through the engine's own <see cref="ICandleUpdateReader"/>, so the
/// engine project does not reference ingest (references point one way: Contracts ← Ingest, Engine ← Hub).
/// </summary>
internal sealed class CandleChannelReader(CandleUpdateChannel channel) : ICandleUpdateReader
{
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

    public bool TryRead(out CandleUpdate update) => channel.TryRead(out update);
}
