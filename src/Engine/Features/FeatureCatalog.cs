namespace SignalStream.Engine.Features;

/// <summary>The ordered list of every feature the engine computes for a stream at each closed candle.</summary>
/// <remarks>
/// Every feature is stationary and scale-free (returns, ratios, normalised oscillators), so one model serves every
/// symbol and timeframe. Model manifests name the features they take; the names here are that contract, and
/// <c>docs/features.md</c> defines each one exactly (the Python reference in <c>models/train</c> follows it).
/// </remarks>
public static class FeatureCatalog
{
    /// <summary>Closed candles a stream needs before its feature rows count as warm.</summary>
    /// <remarks>
    /// The longest look-back is 49 candles (48 one-candle returns for <c>vol_48</c>). The EMAs and Wilder averages
    /// are seeded from the stream's first candle; after 100 candles the seed's weight is below 0.2 % (RSI's
    /// (13/14)^86), so a stream that started at any other point gives the same features within that margin.
    /// </remarks>
    public const int WarmupCandles = 100;

    private static readonly string[] s_names =
    [
        "ret_1", "ret_3", "ret_6", "ret_12", "ret_24",
        "vol_12", "vol_48", "vol_ratio",
        "rsi_14",
        "macd_line", "macd_signal", "macd_hist",
        "bb_position", "bb_width",
        "atr_14",
        "volume_z_48",
        "body", "upper_wick", "lower_wick", "range",
        "taker_buy_ratio",
        "ema_dist_26",
    ];

    private static readonly Dictionary<string, int> s_index = BuildIndex();

    /// <summary>Feature names in row order.</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>How many features a row holds.</summary>
    public static int Count => s_names.Length;

    /// <summary>The position of <paramref name="name"/> in a feature row (case-sensitive).</summary>
    public static bool TryGetIndex(string name, out int index) => s_index.TryGetValue(name, out index);

    /// <summary>Resolves a manifest's feature list to row positions; false names the first unknown feature.</summary>
    public static bool TryResolve(IReadOnlyList<string> names, out int[] indices, out string? unknown)
    {
        ArgumentNullException.ThrowIfNull(names);
        indices = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            if (!s_index.TryGetValue(names[i], out indices[i]))
            {
                unknown = names[i];
                indices = [];
                return false;
            }
        }

        unknown = null;
        return true;
    }

    private static Dictionary<string, int> BuildIndex()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < s_names.Length; i++)
        {
            index.Add(s_names[i], i);
        }

        return index;
    }

    // Row positions, in the order of s_names; StreamFeatureState writes by these.
    internal const int Ret1 = 0;
    internal const int Ret3 = 1;
    internal const int Ret6 = 2;
    internal const int Ret12 = 3;
    internal const int Ret24 = 4;
    internal const int Vol12 = 5;
    internal const int Vol48 = 6;
    internal const int VolRatio = 7;
    internal const int Rsi14 = 8;
    internal const int MacdLine = 9;
    internal const int MacdSignal = 10;
    internal const int MacdHist = 11;
    internal const int BollingerPosition = 12;
    internal const int BollingerWidth = 13;
    internal const int Atr14 = 14;
    internal const int VolumeZ48 = 15;
    internal const int Body = 16;
    internal const int UpperWick = 17;
    internal const int LowerWick = 18;
    internal const int Range = 19;
    internal const int TakerBuyRatio = 20;
    internal const int EmaDist26 = 21;
}
