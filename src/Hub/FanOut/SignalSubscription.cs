using SignalStream.Contracts;

namespace SignalStream.Hub.FanOut;

/// <summary>One connection's subscription to one symbol's signals, with its filters.</summary>
/// <remarks>
/// The filter is a bit test and a comparison against the shared frame's source object: filtering never re-serializes.
/// </remarks>
internal sealed class SignalSubscription(ConnectionState connection, string symbol, ushort timeframeMask, double minConfidence)
{
    public ConnectionState Connection { get; } = connection;

    public string Symbol { get; } = symbol;

    public ushort TimeframeMask { get; } = timeframeMask;

    public double MinConfidence { get; } = minConfidence;

    /// <summary>Live signals up to this seq were returned by Subscribe (or are older than the client's resume point).</summary>
    /// <remarks>Written under the symbol's delivery lock before the subscription joins the live stream.</remarks>
    public long SkipUpTo { get; set; }

    /// <summary>Live outcomes up to this outcomeSeq were returned by Subscribe, or delivered before it joined.</summary>
    /// <remarks>Written under the symbol's delivery lock before the subscription joins the live stream.</remarks>
    public long SkipOutcomesUpTo { get; set; }

    public static ushort MaskOf(IEnumerable<Timeframe> timeframes)
    {
        ushort mask = 0;
        foreach (var timeframe in timeframes)
        {
            mask |= (ushort)(1 << (int)timeframe);
        }

        return mask;
    }

    public bool Covers(Timeframe timeframe) => (TimeframeMask & (1 << (int)timeframe)) != 0;

    /// <summary>An outcome numbered above what Subscribe returned (an unnumbered one, from an older engine, always),
    /// of a covered timeframe, whose signal had the confidence asked for (unknown: sent).</summary>
    public bool Wants(SignalOutcome outcome, double signalConfidence) =>
        (outcome.OutcomeSeq == 0 || outcome.OutcomeSeq > SkipOutcomesUpTo) && Covers(outcome.Timeframe) && signalConfidence >= MinConfidence;

    public bool Wants(Signal signal) => signal.Seq > SkipUpTo && Covers(signal.Timeframe) && signal.Confidence >= MinConfidence;
}
