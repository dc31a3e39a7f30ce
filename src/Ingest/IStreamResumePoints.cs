using SignalStream.Contracts;

namespace SignalStream.Ingest;

/// <summary>
/// Where each stream stopped in an earlier run: the open time of the newest closed candle already stored. The host
/// implements it over the event store; a source whose clock it sets itself (the simulator) resumes after it, so a
/// restart continues the market instead of replaying times it already closed.
/// </summary>
public interface IStreamResumePoints
{
    /// <summary>The newest stored closed candle's open time of <paramref name="stream"/>, when there is one.</summary>
    bool TryGetLastClosedOpenTime(StreamKey stream, out long openTime);
}
