using System.Diagnostics.CodeAnalysis;

namespace SignalStream.Contracts;

/// <summary>Strict parsing, names and durations of <see cref="Timeframe"/> values.</summary>
/// <remarks>
/// Names are case-sensitive because Binance's are: <c>1m</c> is a minute and <c>1M</c> a month.
/// Open times follow Binance: UTC, aligned to the interval from the Unix epoch, weeks starting on Monday,
/// months on the first day of the calendar month.
/// </remarks>
public static class Timeframes
{
    private static readonly string[] s_names =
        ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"];

    private static readonly byte[][] s_utf8Names = Array.ConvertAll(s_names, System.Text.Encoding.UTF8.GetBytes);

    // Monday 1970-01-05 00:00 UTC: Binance's weekly candles open on Mondays.
    private const long FirstMondayMs = 4 * 86_400_000L;

    /// <summary>Every timeframe, shortest first.</summary>
    public static IReadOnlyList<Timeframe> All { get; } = Enum.GetValues<Timeframe>();

    /// <summary>Binance's interval names, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>The Binance interval name, for example <c>15m</c>.</summary>
    public static string ToName(this Timeframe timeframe) => s_names[(int)timeframe];

    /// <summary>Parses a Binance interval name exactly (case-sensitive, no whitespace).</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out Timeframe timeframe)
    {
        for (var i = 0; i < s_names.Length; i++)
        {
            if (name.SequenceEqual(s_names[i]))
            {
                timeframe = (Timeframe)i;
                return true;
            }
        }

        timeframe = default;
        return false;
    }

    /// <summary>Parses a UTF-8 Binance interval name exactly; does not allocate.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Name, out Timeframe timeframe)
    {
        for (var i = 0; i < s_utf8Names.Length; i++)
        {
            if (utf8Name.SequenceEqual(s_utf8Names[i]))
            {
                timeframe = (Timeframe)i;
                return true;
            }
        }

        timeframe = default;
        return false;
    }

    /// <summary>Parses a Binance interval name or throws a <see cref="FormatException"/> that lists the valid names.</summary>
    public static Timeframe Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryParse(name.AsSpan(), out var timeframe)
            ? timeframe
            : throw new FormatException(
                $"'{name}' is not a Binance interval name. Valid names (case-sensitive): {string.Join(", ", s_names)}.");
    }

    /// <summary>The fixed length of the interval, or <c>null</c> for <see cref="Timeframe.OneMonth"/> (calendar months vary).</summary>
    public static TimeSpan? FixedDuration(this Timeframe timeframe) => timeframe == Timeframe.OneMonth
        ? null
        : TimeSpan.FromMilliseconds(FixedMilliseconds(timeframe));

    /// <summary>The nominal length: exact for all but months, which count as 30 days (for expiry and weighting only).</summary>
    public static TimeSpan NominalDuration(this Timeframe timeframe) => timeframe == Timeframe.OneMonth
        ? TimeSpan.FromDays(30)
        : TimeSpan.FromMilliseconds(FixedMilliseconds(timeframe));

    /// <summary>The open time (Unix ms, UTC) of the candle that contains <paramref name="timeMs"/>.</summary>
    public static long OpenTimeOf(this Timeframe timeframe, long timeMs)
    {
        switch (timeframe)
        {
            case Timeframe.OneMonth:
                var t = DateTimeOffset.FromUnixTimeMilliseconds(timeMs);
                return new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            case Timeframe.OneWeek:
                var week = FixedMilliseconds(timeframe);
                return FirstMondayMs + FloorDiv(timeMs - FirstMondayMs, week) * week;
            default:
                var length = FixedMilliseconds(timeframe);
                return FloorDiv(timeMs, length) * length;
        }
    }

    /// <summary>The open time of the candle after the one that opened at <paramref name="openTimeMs"/>.</summary>
    public static long NextOpenTime(this Timeframe timeframe, long openTimeMs) => timeframe == Timeframe.OneMonth
        ? DateTimeOffset.FromUnixTimeMilliseconds(openTimeMs).AddMonths(1).ToUnixTimeMilliseconds()
        : openTimeMs + FixedMilliseconds(timeframe);

    /// <summary>The close time Binance reports for a candle: the next open time minus one millisecond.</summary>
    public static long CloseTimeOf(this Timeframe timeframe, long openTimeMs) => NextOpenTime(timeframe, openTimeMs) - 1;

    /// <summary>
    /// The candle's ordinal: its open time in whole intervals since the Unix epoch (months counted from January 1970).
    /// Consecutive candles of a stream differ by one; a recurrent model's chains are anchored on it.
    /// </summary>
    public static long BarIndex(this Timeframe timeframe, long openTimeMs)
    {
        if (timeframe == Timeframe.OneMonth)
        {
            var t = DateTimeOffset.FromUnixTimeMilliseconds(openTimeMs);
            return ((t.Year - 1970L) * 12) + t.Month - 1;
        }

        return FloorDiv(openTimeMs, FixedMilliseconds(timeframe));
    }

    /// <summary>Whether <paramref name="openTimeMs"/> is a valid open time for this interval.</summary>
    public static bool IsAlignedOpenTime(this Timeframe timeframe, long openTimeMs) =>
        OpenTimeOf(timeframe, openTimeMs) == openTimeMs;

    private static long FixedMilliseconds(Timeframe timeframe) => timeframe switch
    {
        Timeframe.OneSecond => 1_000L,
        Timeframe.OneMinute => 60_000L,
        Timeframe.ThreeMinutes => 180_000L,
        Timeframe.FiveMinutes => 300_000L,
        Timeframe.FifteenMinutes => 900_000L,
        Timeframe.ThirtyMinutes => 1_800_000L,
        Timeframe.OneHour => 3_600_000L,
        Timeframe.TwoHours => 7_200_000L,
        Timeframe.FourHours => 14_400_000L,
        Timeframe.SixHours => 21_600_000L,
        Timeframe.EightHours => 28_800_000L,
        Timeframe.TwelveHours => 43_200_000L,
        Timeframe.OneDay => 86_400_000L,
        Timeframe.ThreeDays => 259_200_000L,
        Timeframe.OneWeek => 604_800_000L,
        _ => throw new ArgumentOutOfRangeException(nameof(timeframe), timeframe, "Not a fixed-length timeframe."),
    };

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>Parses a list of names, throwing one error that names every invalid entry.</summary>
    public static Timeframe[] ParseList(IEnumerable<string> names, [StringSyntax("config")] string settingName)
    {
        ArgumentNullException.ThrowIfNull(names);
        var parsed = new List<Timeframe>();
        var bad = new List<string>();
        foreach (var name in names)
        {
            if (TryParse(name.AsSpan(), out var tf))
            {
                if (!parsed.Contains(tf))
                {
                    parsed.Add(tf);
                }
            }
            else
            {
                bad.Add($"'{name}'");
            }
        }

        if (bad.Count > 0)
        {
            throw new FormatException(
                $"{settingName}: {string.Join(", ", bad)} not Binance interval names. Valid (case-sensitive): {string.Join(", ", s_names)}.");
        }

        parsed.Sort();
        return [.. parsed];
    }
}
