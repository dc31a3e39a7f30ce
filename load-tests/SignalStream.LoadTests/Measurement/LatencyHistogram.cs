namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// An HDR-style log-linear histogram of microsecond values: exact below 128 µs, then 64 sub-buckets per power of two
/// (under 1.6 % relative error), lock-free recording from many receive loops.
/// </summary>
/// <remarks>
/// Counts are sharded so thousands of client loops do not contend on one cache line; the shard is picked by the
/// caller's client id. 2,304 buckets cover 1 µs to 2^40 µs (12 days), 18 KB per shard.
/// </remarks>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits; // 64
    private const int LinearLimit = SubBuckets * 2; // exact below 128
    private const int BucketCount = (40 - SubBucketBits + 2) * SubBuckets;
    private readonly long[][] _shards;

    public LatencyHistogram(int shards = 16)
    {
        _shards = new long[shards][];
        for (var i = 0; i < shards; i++)
        {
            _shards[i] = new long[BucketCount];
        }
    }

    public void Record(long micros, int shard)
    {
        var index = IndexOf(Math.Max(micros, 0));
        Interlocked.Increment(ref _shards[(uint)shard % (uint)_shards.Length][index]);
    }

    /// <summary>A merged, immutable copy for percentiles.</summary>
    public LatencySummary Summarize() => new(AddTo(new long[BucketCount]));

    internal long[] AddTo(long[] merged)
    {
        foreach (var shard in _shards)
        {
            for (var i = 0; i < BucketCount; i++)
            {
                merged[i] += Volatile.Read(ref shard[i]);
            }
        }

        return merged;
    }

    internal static int Buckets => BucketCount;

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }

        var exponent = (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)value)) - SubBucketBits;
        var index = (exponent * SubBuckets) + (int)(value >> exponent);
        return Math.Min(index, BucketCount - 1);
    }

    /// <summary>The highest value a bucket stands for (HDR's "highest equivalent value").</summary>
    internal static long HighestOf(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        var exponent = (index / SubBuckets) - 1;
        var mantissa = index - (exponent * SubBuckets);
        return ((long)(mantissa + 1) << exponent) - 1;
    }
}

/// <summary>Percentiles of a <see cref="LatencyHistogram"/> in milliseconds.</summary>
internal sealed class LatencySummary
{
    private readonly long[] _counts;

    public LatencySummary(long[] counts)
    {
        _counts = counts;
        foreach (var c in counts)
        {
            Count += c;
        }
    }

    public long Count { get; }

    /// <summary>What was recorded between <paramref name="earlier"/> and this summary, both taken from the same
    /// histograms: one step of a sweep out of the whole run.</summary>
    public LatencySummary Since(LatencySummary earlier)
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = _counts[i] - earlier._counts[i];
        }

        return new LatencySummary(counts);
    }

    public double P50 => Percentile(50);

    public double P90 => Percentile(90);

    public double P99 => Percentile(99);

    public double P999 => Percentile(99.9);

    public double Max => Percentile(100);

    public double Percentile(double percent)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percent / 100 * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return LatencyHistogram.HighestOf(i) / 1000.0;
            }
        }

        return LatencyHistogram.HighestOf(_counts.Length - 1) / 1000.0;
    }
}

/// <summary>Merges the histograms of several client pools.</summary>
internal static class LatencyHistogramMerge
{
    public static LatencySummary Of(IEnumerable<LatencyHistogram> histograms)
    {
        var merged = new long[LatencyHistogram.Buckets];
        foreach (var histogram in histograms)
        {
            histogram.AddTo(merged);
        }

        return new LatencySummary(merged);
    }
}
