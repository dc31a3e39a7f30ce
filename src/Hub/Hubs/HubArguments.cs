using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;

namespace SignalStream.Hub.Hubs;

/// <summary>Validates hub (and REST) arguments into normalized values; every failure says what to send instead.</summary>
internal static class HubArguments
{
    public const int MaxSymbolLength = 20;

    /// <summary>Upper-cases and checks a symbol; null with <paramref name="error"/> when it is not served here.</summary>
    public static string? TryNormalizeSymbol(string? symbol, ServedMarkets markets, out string? error)
    {
        if (string.IsNullOrWhiteSpace(symbol))
        {
            error = $"symbol is required, for example {markets.Symbols[0]}.";
            return null;
        }

        if (symbol.Length is < 2 or > MaxSymbolLength || !IsAsciiAlphanumeric(symbol))
        {
            error = $"symbol '{Truncate(symbol)}' is not a symbol: use 2-{MaxSymbolLength} ASCII letters or digits, for example {markets.Symbols[0]}.";
            return null;
        }

        var normalized = symbol.ToUpperInvariant();
        if (!markets.IsServed(normalized))
        {
            error = $"symbol '{normalized}' is not served here; served symbols: {string.Join(", ", markets.Symbols)}.";
            return null;
        }

        error = null;
        return normalized;
    }

    public static string Symbol(string? symbol, ServedMarkets markets) =>
        TryNormalizeSymbol(symbol, markets, out var error) ?? throw new HubException(error);

    /// <summary>The requested timeframes (all served ones when null or empty), de-duplicated and sorted.</summary>
    public static Timeframe[] Timeframes(IReadOnlyList<string>? names, ServedMarkets markets)
    {
        if (names is null || names.Count == 0)
        {
            return [.. markets.Timeframes];
        }

        if (names.Count > Contracts.Timeframes.All.Count)
        {
            throw new HubException($"timeframes has {names.Count} entries; there are only {Contracts.Timeframes.All.Count} timeframes.");
        }

        var result = new List<Timeframe>(names.Count);
        foreach (var name in names)
        {
            result.Add(Timeframe(name, markets));
        }

        return [.. result.Distinct().Order()];
    }

    public static Timeframe Timeframe(string? name, ServedMarkets markets) =>
        TryTimeframe(name, markets, out var timeframe, out var error) ? timeframe : throw new HubException(error);

    /// <summary>A served timeframe by its Binance interval name; false with <paramref name="error"/> naming the served ones.</summary>
    public static bool TryTimeframe(string? name, ServedMarkets markets, out Timeframe timeframe, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrEmpty(name))
        {
            timeframe = default;
            error = $"timeframe is required; served (case-sensitive): {string.Join(", ", markets.TimeframeNames)}.";
            return false;
        }

        if (!Contracts.Timeframes.TryParse(name.AsSpan(), out timeframe))
        {
            error = $"timeframe '{Truncate(name)}' is not a Binance interval name; served (case-sensitive): {string.Join(", ", markets.TimeframeNames)}.";
            return false;
        }

        error = markets.IsServed(timeframe) ? null : $"timeframe '{name}' is not served here; served: {string.Join(", ", markets.TimeframeNames)}.";
        return error is null;
    }

    public static double MinConfidence(double? value) => value switch
    {
        null => 0,
        double v when double.IsFinite(v) && v is >= 0 and <= 100 => v,
        _ => throw new HubException($"minConfidence is {value}; it must be a number from 0 to 100."),
    };

    public static long? AfterSeq(long? value) => value is < 0
        ? throw new HubException($"afterSeq is {value}; it must be 0 or more (the last seq you received, 0 for everything).")
        : value;

    public static long? AfterOutcomeSeq(long? value) => value is < 0
        ? throw new HubException($"afterOutcomeSeq is {value}; it must be 0 or more (the last outcomeSeq you received, or the latestOutcomeSeq of your last Subscribe).")
        : value;

    private static bool IsAsciiAlphanumeric(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string Truncate(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
