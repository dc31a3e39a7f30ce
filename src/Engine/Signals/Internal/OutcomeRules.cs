using System.Globalization;
using SignalStream.Contracts;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>How an open signal resolves on a later closed candle of its stream.</summary>
internal static class OutcomeRules
{
    /// <summary>
    /// Long: WIN when high ≥ target, LOSS when low ≤ stop; both in one candle → LOSS, because a candle does not say
    /// which came first and the journal must not flatter a model. Short mirrored. Otherwise EXPIRED once the candle's
    /// close time reaches <see cref="Signal.ExpiresAt"/>, exited at that close with R = signed move / initial risk.
    /// A candle that is not later than the signal's own candle never resolves it.
    /// </summary>
    public static bool TryResolve(Signal signal, bool isShadow, in Candle candle, long resolvedAt, out SignalOutcome? outcome)
    {
        outcome = null;
        if (candle.OpenTime <= signal.CandleOpenTime)
        {
            return false;
        }

        var isLong = signal.Direction == SignalDirection.Long;
        var risk = isLong ? signal.Entry - signal.Stop : signal.Stop - signal.Entry;
        var hitTarget = isLong ? candle.High >= signal.Target : candle.Low <= signal.Target;
        var hitStop = isLong ? candle.Low <= signal.Stop : candle.High >= signal.Stop;
        var at = FormatTime(candle.OpenTime);

        OutcomeKind kind;
        decimal exit;
        double r;
        string reason;
        if (hitStop && hitTarget)
        {
            kind = OutcomeKind.Loss;
            exit = signal.Stop;
            r = -1;
            reason = $"target {signal.Target} and stop {signal.Stop} both inside the {at} candle (high {candle.High}, low {candle.Low}); resolved as loss because the order within a candle is unknown";
        }
        else if (hitStop)
        {
            kind = OutcomeKind.Loss;
            exit = signal.Stop;
            r = -1;
            reason = $"stop {signal.Stop} reached in the {at} candle ({(isLong ? "low " + candle.Low : "high " + candle.High)})";
        }
        else if (hitTarget)
        {
            kind = OutcomeKind.Win;
            exit = signal.Target;
            r = (double)((isLong ? signal.Target - signal.Entry : signal.Entry - signal.Target) / risk);
            reason = $"target {signal.Target} reached in the {at} candle ({(isLong ? "high " + candle.High : "low " + candle.Low)})";
        }
        else if (candle.CloseTime >= signal.ExpiresAt)
        {
            kind = OutcomeKind.Expired;
            exit = candle.Close;
            r = (double)((isLong ? candle.Close - signal.Entry : signal.Entry - candle.Close) / risk);
            reason = $"expired at the close of the {at} candle ({candle.Close}) without reaching target or stop";
        }
        else
        {
            return false;
        }

        outcome = new SignalOutcome
        {
            SignalId = signal.Id,
            SignalSeq = signal.Seq,
            Symbol = signal.Symbol,
            Timeframe = signal.Timeframe,
            Direction = signal.Direction,
            Outcome = kind,
            Entry = signal.Entry,
            ExitPrice = exit,
            // Cut like Signal.RiskReward, so a win scores exactly the published reward / risk.
            RMultiple = Math.Round(r, 4, MidpointRounding.ToZero),
            ResolvedCandleOpenTime = candle.OpenTime,
            ResolvedAt = resolvedAt,
            Reason = reason,
            Models = signal.Models,
            IsShadow = isShadow,
        };
        return true;
    }

    private static string FormatTime(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
