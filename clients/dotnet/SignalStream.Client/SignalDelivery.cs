using SignalStream.Contracts;

namespace SignalStream.Client;

/// <summary>How a signal reached the application.</summary>
public enum SignalSource
{
    /// <summary>The latest signal per timeframe, returned by the first subscribe (older than the live stream).</summary>
    Snapshot,

    /// <summary>Missed while disconnected or lost in a hole, recovered from the server's store with <c>afterSeq</c>.</summary>
    Recovered,

    /// <summary>Pushed live.</summary>
    Live,
}

/// <summary>A signal released to the application, in seq order.</summary>
public readonly record struct SignalDelivery(Signal Signal, SignalSource Source);
