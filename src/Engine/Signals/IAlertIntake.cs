using SignalStream.Contracts;
using SignalStream.Engine.Events;

namespace SignalStream.Engine.Signals;

/// <summary>
/// Where TradingView alerts enter the engine (docs/signals.md, "TradingView alerts"). The webhook validates the request
/// and hands over an <see cref="AlertSubmission"/>; the signal stage checks it against the stream's market (last close,
/// ATR), stores it, and publishes its signal through the one place the symbol's seq is assigned, or adds its vote.
/// </summary>
public interface IAlertIntake
{
    /// <summary>
    /// Accepts a live alert: queues it for the store (<see cref="EngineOutputs.OnAlertAsync(TradingViewAlertReceived, TaskCompletionSource?, CancellationToken)"/>;
    /// <see cref="AlertResult.Committed"/> says when it is stored), then publishes its signal (signal
    /// mode), adds its vote and journals its would-be signal (vote mode), or marks its source's open signals to close
    /// (<c>exit</c>). A rejection stores nothing and changes nothing.
    /// </summary>
    ValueTask<AlertResult> SubmitAsync(AlertSubmission alert, CancellationToken cancellationToken);

    /// <summary>
    /// At start, oldest first, after the stored signals were restored: reinstates a stored alert's standing vote and its
    /// exit marks (its signal and would-be signal come back with the signals).
    /// </summary>
    void Restore(TradingViewAlertReceived alert);

    /// <summary>
    /// In a replay, in stored order: does what the alert did live, into the replay's namespace: its signal (with the
    /// replay's own seq), its vote and would-be signal, its exit. The alert event itself is not stored again.
    /// </summary>
    ValueTask ReplayAsync(TradingViewAlertReceived alert, CancellationToken cancellationToken);
}

/// <summary>What a source does with its alerts.</summary>
public enum AlertMode : byte
{
    /// <summary>Each alert becomes a published signal of its symbol.</summary>
    Signal,

    /// <summary>Each alert only votes in the ensemble of its symbol and timeframe.</summary>
    Vote,
}

/// <summary>An alert's action: <c>buy</c>/<c>long</c>, <c>sell</c>/<c>short</c>, or <c>exit</c>.</summary>
public enum AlertAction : byte
{
    Long,
    Short,
    Exit,
}

/// <summary>
/// A validated TradingView alert on its way into the engine: the event that will be stored (everything the webhook
/// read; the stage adds its market time, signal and vote) and how its source wants it handled.
/// </summary>
public sealed record AlertSubmission
{
    /// <summary>The alert as stored, with <see cref="TradingViewAlertReceived.MarketTime"/> 0 and no signal or vote yet.</summary>
    public required TradingViewAlertReceived Received { get; init; }

    public required AlertMode Mode { get; init; }

    public required AlertAction Action { get; init; }

    public required AlertPolicy Policy { get; init; }

    public Guid Id => Received.Id;

    public string Source => Received.Source;

    /// <summary>The action as sent, lower-case.</summary>
    public string RawAction => Received.Action;

    public string Symbol => Received.Symbol;

    public Timeframe Timeframe => Received.Timeframe;

    public decimal Price => Received.Price;

    public decimal? Stop => Received.Stop;

    public decimal? Target => Received.Target;

    public string? Strategy => Received.Strategy;

    public string? Comment => Received.Comment;

    public string DedupeKey => Received.DedupeKey;

    /// <summary>Unix ms.</summary>
    public long ReceivedAt => Received.ReceivedAt;
}

/// <summary>The per-source settings the engine applies to an alert (from <c>Webhooks:TradingView:{source}</c>).</summary>
/// <param name="Confidence">0–100: the signal's confidence, P(direction) of its vote, and <c>c</c> in the ATR levels.</param>
/// <param name="Weight">Vote mode: the vote's ensemble weight, in the units of the model manifests' weights.</param>
/// <param name="LearnWeight">Vote mode: scale <paramref name="Weight"/> by the source's profit factor once it has a record.</param>
/// <param name="LearnAfter">Resolved alerts the source needs before its weight is learned.</param>
/// <param name="MinWeightFactor">Lowest factor a learned weight applies.</param>
/// <param name="MaxWeightFactor">Highest factor a learned weight applies.</param>
/// <param name="VoteExpiry">Vote mode: how long (market time) a vote counts after it arrives.</param>
/// <param name="MaxPriceDeviation">Largest |price − last close| / last close accepted (0.1 = 10 %).</param>
public sealed record AlertPolicy(
    double Confidence,
    double Weight,
    bool LearnWeight,
    int LearnAfter,
    double MinWeightFactor,
    double MaxWeightFactor,
    TimeSpan VoteExpiry,
    double MaxPriceDeviation);

/// <summary>How the engine took an alert: a closed set, one case per answer the webhook gives.</summary>
public abstract record AlertResult
{
    private AlertResult()
    {
    }

    /// <summary>
    /// Completes once the store has acknowledged the alert's commit (at once without a store). Its signal is queued
    /// behind it in the same commit lane and published after its own commit. Never completes for a refusal (not stored).
    /// </summary>
    public Task Committed { get; init; } = Task.CompletedTask;

    /// <summary>Signal mode: published with <paramref name="Seq"/>.</summary>
    public sealed record Published(string SignalId, long Seq, decimal Target, decimal Stop) : AlertResult;

    /// <summary>Vote mode: the vote stands until <paramref name="ExpiresAt"/> (market time); its would-be signal is journaled.</summary>
    public sealed record Voted(string SignalId, double Weight, long ExpiresAt) : AlertResult;

    /// <summary><c>exit</c>: <paramref name="Closing"/> open signals of the source close on the stream's next candle.</summary>
    public sealed record Exited(int Closing) : AlertResult;

    /// <summary>The alert does not fit the market (a price far from the last close, levels on the wrong side): 400.</summary>
    public sealed record Rejected(string Field, string Detail) : AlertResult;

    /// <summary>The stream has no closed candle yet (the engine is starting): 503, try again shortly.</summary>
    public sealed record NotReady(string Detail) : AlertResult;
}
