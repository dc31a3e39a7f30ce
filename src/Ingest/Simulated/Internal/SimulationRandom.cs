namespace SignalStream.Ingest.Simulated.Internal;

/// <summary>xoshiro256** with Gaussian and Student-t draws: fast, and identical on every platform and .NET version.</summary>
/// <remarks>System.Random's algorithm is an implementation detail that may change; a simulator promised to be
/// deterministic from its seed owns its generator.</remarks>
internal sealed class SimulationRandom
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpare;

    public SimulationRandom(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix(ref sm);
        _s1 = SplitMix(ref sm);
        _s2 = SplitMix(ref sm);
        _s3 = SplitMix(ref sm);
    }

    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal (Marsaglia's polar method).</summary>
    public double NextNormal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }

        double u, v, s;
        do
        {
            u = (2 * NextDouble()) - 1;
            v = (2 * NextDouble()) - 1;
            s = (u * u) + (v * v);
        }
        while (s >= 1 || s == 0);

        var factor = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareNormal = v * factor;
        _hasSpare = true;
        return u * factor;
    }

    /// <summary>Student-t with 4 degrees of freedom, scaled to unit variance: the fat tails of crypto returns.</summary>
    public double NextStudentT4()
    {
        var n = NextNormal();
        double chi = 0;
        for (var i = 0; i < 4; i++)
        {
            var g = NextNormal();
            chi += g * g;
        }

        // t = n / sqrt(chi/4) has variance 4/(4-2) = 2; divide by sqrt(2) for unit variance.
        return n / Math.Sqrt(chi / 4) / Math.Sqrt(2);
    }

    /// <summary>A 64-bit FNV-1a hash of a string's UTF-16 code units: stable across processes, unlike string.GetHashCode.</summary>
    public static ulong StableHash(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in value)
        {
            hash ^= ch;
            hash *= 1099511628211UL;
        }

        return hash;
    }

    private static ulong SplitMix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
