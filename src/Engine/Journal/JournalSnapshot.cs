using SignalStream.Contracts;

namespace SignalStream.Engine.Journal;

/// <summary>
/// The whole state of a <see cref="SignalJournal"/>: every row's running sums and the signals still open, so a store can
/// keep the statistics durably and resume them exactly (<see cref="SignalJournal.FromSnapshot"/> then more
/// <see cref="SignalJournal.Track"/> / <see cref="SignalJournal.Apply"/> gives what the journal would have given).
/// </summary>
/// <param name="Rows">One per (model, shadow, symbol, timeframe), roll-ups included.</param>
/// <param name="Open">Signals tracked and not yet resolved.</param>
/// <param name="ResolvedBeforeTracked">Signals whose outcome came before them, oldest first (see <see cref="SignalJournal.Track"/>).</param>
public sealed record JournalSnapshot(IReadOnlyList<JournalRowState> Rows, IReadOnlyList<OpenSignalState> Open, IReadOnlyList<string> ResolvedBeforeTracked)
{
    /// <summary>A journal with nothing in it.</summary>
    public static JournalSnapshot Empty { get; } = new([], [], []);
}

/// <summary>The running sums of one journal row, exactly as the journal holds them (doubles round-trip in JSON).</summary>
public sealed record JournalRowState(
    string Model,
    bool IsShadow,
    string Symbol,
    string Timeframe,
    int Open,
    int Wins,
    int Losses,
    int Expired,
    double GrossWin,
    double GrossLoss,
    double SumR,
    double CumulativeR,
    double PeakR,
    double MaxDrawdown,
    double BrierSum,
    IReadOnlyList<int> BucketCount,
    IReadOnlyList<double> BucketPredicted,
    IReadOnlyList<int> BucketWins,
    IReadOnlyList<double> BucketR,
    IReadOnlyList<EquityPoint>? Equity,
    int EquityStride,
    long LastCandleOpenTime);

/// <summary>A tracked signal not yet resolved, with what names its rows (its models, symbol and timeframe).</summary>
public sealed record OpenSignalState(string SignalId, bool IsShadow, IReadOnlyList<string> Models, string Symbol, string Timeframe);
