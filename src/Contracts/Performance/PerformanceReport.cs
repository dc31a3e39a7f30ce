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
    IReadOnlyList<CalibrationBucket> Calibration);

/// <summary>One calibration bucket: signals whose predicted win probability fell in [Lower, Upper).</summary>
public sealed record CalibrationBucket(double Lower, double Upper, int Count, double MeanPredicted, double ObservedWinRate);
