namespace SignalStream.Contracts;

/// <summary>Live journal statistics, as <c>/api/performance</c> reports them.</summary>
/// <param name="GeneratedAt">Unix ms.</param>
/// <param name="Groups">One row per (model, symbol, timeframe) plus roll-ups (symbol or timeframe <c>*</c>).</param>
public sealed record PerformanceReport(long GeneratedAt, IReadOnlyList<PerformanceGroup> Groups);

/// <summary>Statistics of one group of resolved signals.</summary>
/// <param name="Model">Model name, or <c>ensemble</c> for published signals as a whole.</param>
/// <param name="IsShadow">True for a shadow model (scored, never published).</param>
/// <param name="ProfitFactor">Gross win R / gross loss R; finite: with no losses it is the gross win R.</param>
/// <param name="MaxDrawdown">Largest peak-to-trough fall of cumulative R.</param>
/// <param name="Calibration">Predicted-probability buckets with observed win frequency.</param>
public sealed record PerformanceGroup(
    string Model,
    bool IsShadow,
    string Symbol,
    string Timeframe,
    int Signals,
    int Open,
    int Wins,
    int Losses,
    int Expired,
    double WinRate,
    double ProfitFactor,
    double AverageR,
    double MaxDrawdown,
    double? BrierScore,
    IReadOnlyList<CalibrationBucket> Calibration)
{
    /// <summary>
    /// Cumulative R after each resolved signal, oldest first: at most <c>EquityPoint.MaxPoints</c> of them (a longer
    /// record keeps every 2nd, then every 4th, … point) and then the newest. Only on roll-up rows over all symbols and
    /// timeframes (symbol and timeframe <c>*</c>); absent elsewhere.
    /// </summary>
    public IReadOnlyList<EquityPoint>? Equity { get; init; }
}

/// <summary>One calibration bucket: signals whose predicted win probability fell in [Lower, Upper).</summary>
/// <param name="ObservedWinRate">Wins / count in the bucket (expiries count as not won).</param>
public sealed record CalibrationBucket(double Lower, double Upper, int Count, double MeanPredicted, double ObservedWinRate)
{
    /// <summary>Mean R of the bucket's resolved signals.</summary>
    public double AverageR { get; init; }
}

/// <summary>A point of an equity curve in R.</summary>
/// <param name="Resolved">How many signals of the row had resolved at this point (1 for the first).</param>
/// <param name="ResolvedCandleOpenTime">Open time of the candle that resolved it (Unix ms): market time, the same live and in a replay.</param>
/// <param name="CumulativeR">Σ R so far.</param>
/// <param name="Drawdown">The fall from the running peak of cumulative R (starting at 0), in R; ≥ 0.</param>
public sealed record EquityPoint(int Resolved, long ResolvedCandleOpenTime, double CumulativeR, double Drawdown)
{
    /// <summary>The most points a row's equity curve keeps.</summary>
    public const int MaxPoints = 256;
}
