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
    public static bool TryResolve(Signal signal, bool isShadow, in Candle candle, long resolvedAt, out SignalOutcome? outcome) =>
        TryResolve(signal, isShadow, candle, resolvedAt, exit: null, out outcome);

    /// <summary>
    /// As above, for a signal its source asked to close (<paramref name="exit"/>, an <c>exit</c> alert): on the first
    /// closed candle after the exit's market time it resolves EXPIRED at the exit price, unless that candle also
    /// reached the stop (LOSS: the order within the candle is unknown, and the journal must not flatter a source). When
    /// the exit came within the signal's own candle, that candle closes it at the exit price (its range is not the
    /// signal's to score).
    /// </summary>
    public static bool TryResolve(Signal signal, bool isShadow, in Candle candle, long resolvedAt, ExitMark? exit, out SignalOutcome? outcome)
    {
        outcome = null;
        var exitNow = exit is { } mark && candle.CloseTime > mark.After;
        if (candle.OpenTime <= signal.CandleOpenTime && !exitNow)
        {
            return false;
        }

        var isLong = signal.Direction == SignalDirection.Long;
        var risk = isLong ? signal.Entry - signal.Stop : signal.Stop - signal.Entry;
        var hitTarget = isLong ? candle.High >= signal.Target : candle.Low <= signal.Target;
        var hitStop = isLong ? candle.Low <= signal.Stop : candle.High >= signal.Stop;

        OutcomeKind kind;
        decimal exitPrice;
        double r;
        string reason;
        var ownCandle = candle.OpenTime <= signal.CandleOpenTime;
        if (exitNow && (ownCandle || !hitStop))
        {
            var price = exit!.Value.Price;
            kind = OutcomeKind.Expired;
            exitPrice = price;
            r = (double)((isLong ? price - signal.Entry : signal.Entry - price) / risk);
            reason = $"closed at {price} by an exit alert of {signal.Source} during the {FormatTime(candle.OpenTime)} candle";
        }
        else if (hitStop && hitTarget)
        {
            kind = OutcomeKind.Loss;
            exitPrice = signal.Stop;
            r = -1;
            reason = $"target {signal.Target} and stop {signal.Stop} both inside the {FormatTime(candle.OpenTime)} candle (high {candle.High}, low {candle.Low}); resolved as loss because the order within a candle is unknown";
        }
        else if (hitStop)
        {
            kind = OutcomeKind.Loss;
            exitPrice = signal.Stop;
            r = -1;
            reason = $"stop {signal.Stop} reached in the {FormatTime(candle.OpenTime)} candle ({(isLong ? "low " + candle.Low : "high " + candle.High)})";
        }
        else if (hitTarget)
        {
            kind = OutcomeKind.Win;
            exitPrice = signal.Target;
            r = (double)((isLong ? signal.Target - signal.Entry : signal.Entry - signal.Target) / risk);
            reason = $"target {signal.Target} reached in the {FormatTime(candle.OpenTime)} candle ({(isLong ? "high " + candle.High : "low " + candle.Low)})";
        }
        else if (candle.CloseTime >= signal.ExpiresAt)
        {
            kind = OutcomeKind.Expired;
            exitPrice = candle.Close;
            r = (double)((isLong ? candle.Close - signal.Entry : signal.Entry - candle.Close) / risk);
            reason = $"expired at the close of the {FormatTime(candle.OpenTime)} candle ({candle.Close}) without reaching target or stop";
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
            ExitPrice = exitPrice,
            // Cut like Signal.RiskReward, so a win scores exactly the published reward / risk.
            RMultiple = Math.Round(r, 4, MidpointRounding.ToZero),
            ResolvedCandleOpenTime = candle.OpenTime,
            ResolvedAt = resolvedAt,
            Reason = reason,
            Models = signal.Models,
            IsShadow = isShadow,
            Source = signal.Source,
        };
        return true;
    }

    // Only for an outcome's reason: an open signal is checked against every closed candle of its stream, and most checks
    // resolve nothing (formatting here for each was ~9 ms of a 2,000-stream closing bell's CPU).
    private static string FormatTime(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>A source's request to close its open signal: at <paramref name="Price"/>, on the first candle closing after <paramref name="After"/>.</summary>
/// <param name="Price">The exit alert's price.</param>
/// <param name="After">The market time of the exit: the close time of the stream's last closed candle when it arrived.</param>
internal readonly record struct ExitMark(decimal Price, long After);
