using System.Collections.Concurrent;
using SignalStream.Contracts;

namespace SignalStream.EventStore;

/// <summary>
/// The open time of the newest closed candle already handled per stream, loaded from the store at start and advanced
/// as candles pass. It is what makes "every closed candle exactly once" hold across restarts: a restart reloads
/// warm-up history that the store already holds, and a simulated market restarts its clock at wall time (at Speed &gt; 1
/// that is back in market time), so a source may offer again candles that were handled before.
/// </summary>
public sealed class CandleWatermarks
{
    private readonly ConcurrentDictionary<StreamKey, long> _openTimes = new();
    private readonly ConcurrentDictionary<StreamKey, long> _decided = new();

    /// <summary>True when a closed candle of <paramref name="stream"/> opening at <paramref name="openTime"/> was handled already.</summary>
    public bool Covers(StreamKey stream, long openTime) =>
        _openTimes.TryGetValue(stream, out var newest) && openTime <= newest;

    /// <summary>Records a handled closed candle; the watermark only moves forward.</summary>
    public void Advance(StreamKey stream, long openTime) =>
        _openTimes.AddOrUpdate(stream, static (_, candidate) => candidate, static (_, newest, candidate) => Math.Max(newest, candidate), openTime);

    /// <summary>The watermark of <paramref name="stream"/>, if any candle of it was handled.</summary>
    public bool TryGet(StreamKey stream, out long openTime) => _openTimes.TryGetValue(stream, out openTime);

    /// <summary>
    /// Records, at start, a candle whose decision is in the store (a stored signal names it) though the candle itself
    /// may not be: the engine commits a candle after its shadow models, its signal at once, so a crash between the two
    /// leaves the signal without its candle.
    /// </summary>
    public void AdvanceDecided(StreamKey stream, long openTime) =>
        _decided.AddOrUpdate(stream, static (_, candidate) => candidate, static (_, newest, candidate) => Math.Max(newest, candidate), openTime);

    /// <summary>
    /// True when a closed candle of <paramref name="stream"/> opening at <paramref name="openTime"/> was decided before
    /// the restart: offered again, it must be stored (if it was not) but never decided a second time.
    /// </summary>
    public bool WasDecided(StreamKey stream, long openTime) =>
        _decided.TryGetValue(stream, out var newest) && openTime <= newest;
}
