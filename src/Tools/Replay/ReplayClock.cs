namespace SignalStream.Tools.Replay;

/// <summary>
/// The replay's "now": the stored candle being processed (when it was received live), so decisions and outcome expiry
/// see the time they saw live and two replays see the same times. Timers and timestamps stay real (the writer's group
/// commit delay, batch deadlines), so only wall-clock reads are replayed.
/// </summary>
internal sealed class ReplayClock : TimeProvider
{
    private long _nowMs;

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Volatile.Read(ref _nowMs));

    public void Set(long unixMs) => Volatile.Write(ref _nowMs, unixMs);
}
