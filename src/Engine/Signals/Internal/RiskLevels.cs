using SignalStream.Contracts;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>Why risk levels could not be set.</summary>
internal enum RiskVerdict : byte
{
    Ok,

    /// <summary>ATR or price is missing, not finite, or ATR is not between 0 and the price.</summary>
    NoVolatility,

    /// <summary>After rounding, target or stop is not strictly on its side of the entry (or not above zero).</summary>
    LevelsCollapsed,

    /// <summary>Reward / risk below the minimum.</summary>
    RiskReward,
}

/// <summary>Entry, target and stop of a signal, from ATR (SignalStack).</summary>
internal readonly record struct RiskLevels(decimal Entry, decimal Target, decimal Stop, double RiskReward, double AtrPercent)
{
    /// <summary>
    /// atr% = ATR / entry, c = confidence / 100; long: target = entry·(1 + atr%·(tb + tc·c)), stop = entry·(1 − atr%·(sb − sc·c));
    /// short mirrored. Target and stop are rounded to the configured significant digits, and the checks run on the
    /// rounded values, so what is published always has target &gt; entry &gt; stop (long) and reward / risk ≥ the minimum.
    /// </summary>
    public static RiskVerdict TryCompute(
        SignalDirection direction,
        decimal entry,
        double atr,
        double confidence,
        SignalRules rules,
        out RiskLevels levels)
    {
        levels = default;
        var price = (double)entry;
        if (!(entry > 0) || !double.IsFinite(atr) || !(atr > 0) || !(atr < price))
        {
            return RiskVerdict.NoVolatility;
        }

        var atrPercent = atr / price;
        var c = Math.Clamp(confidence / 100.0, 0, 1);
        var targetMove = (decimal)(atrPercent * (rules.TargetAtrBase + rules.TargetAtrConfidence * c));
        var stopMove = (decimal)(atrPercent * (rules.StopAtrBase - rules.StopAtrConfidence * c));
        var sign = direction == SignalDirection.Long ? 1m : -1m;
        var decimals = DecimalsFor(entry, rules.PriceSignificantDigits);
        var target = Math.Round(entry * (1m + sign * targetMove), decimals, MidpointRounding.AwayFromZero);
        var stop = Math.Round(entry * (1m - sign * stopMove), decimals, MidpointRounding.AwayFromZero);

        var reward = sign * (target - entry);
        var risk = sign * (entry - stop);
        if (reward <= 0 || risk <= 0 || target <= 0 || stop <= 0)
        {
            return RiskVerdict.LevelsCollapsed;
        }

        var riskReward = (double)(reward / risk);
        levels = new(entry, target, stop, Math.Round(riskReward, 4, MidpointRounding.ToZero), atrPercent);
        return riskReward < rules.MinRiskReward ? RiskVerdict.RiskReward : RiskVerdict.Ok;
    }

    /// <summary>Decimals that keep <paramref name="significantDigits"/> significant digits of <paramref name="price"/>, 0 to 12.</summary>
    internal static int DecimalsFor(decimal price, int significantDigits)
    {
        var magnitude = (int)Math.Floor(Math.Log10((double)price));
        return Math.Clamp(significantDigits - 1 - magnitude, 0, 12);
    }
}
