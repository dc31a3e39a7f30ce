using SignalStream.Contracts;
using SignalStream.EventStore;
using SignalStream.Ingest;

namespace SignalStream.Hub.Hosting;

/// <summary>Tells ingest where each stream stopped, from the candle watermarks the engine loaded from the store.</summary>
internal sealed class StoredResumePoints(CandleWatermarks watermarks) : IStreamResumePoints
{
    public bool TryGetLastClosedOpenTime(StreamKey stream, out long openTime) => watermarks.TryGet(stream, out openTime);
}
