using SignalStream.Contracts;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// One validated model version with its session and batcher. Reference-counted: the published model set holds one
/// reference, every queued request another; when a reload retires it and the last request is delivered, the batcher
/// stops and the session is released (batches in flight finish on the old session).
/// </summary>
internal sealed class LoadedModel
{
    private int _references = 1;

    public LoadedModel(
        string name,
        string version,
        string family,
        bool isShadow,
        double weight,
        int window,
        int[] featureIndices,
        IReadOnlyList<Timeframe> timeframes,
        ModelInfo info,
        Recurrence? recurrence = null)
    {
        Recurrence = recurrence;
        Name = name;
        Version = version;
        Family = family;
        IsShadow = isShadow;
        Weight = weight;
        Window = window;
        FeatureIndices = featureIndices;
        Timeframes = timeframes;
        Info = info;
    }

    public string Name { get; }

    public string Version { get; }

    public string Family { get; }

    public bool IsShadow { get; }

    public double Weight { get; }

    public int Window { get; }

    /// <summary>Set when the model carries state per stream (its window is then the one row it steps).</summary>
    public Recurrence? Recurrence { get; }

    /// <summary>Feature rows a stream must keep for this model: its window, or what rebuilds its chains.</summary>
    public int RowsKept => Recurrence?.RowsKept ?? Window;

    /// <summary>Positions in <see cref="Features.FeatureCatalog.Names"/>, in the manifest's order.</summary>
    public int[] FeatureIndices { get; }

    public IReadOnlyList<Timeframe> Timeframes { get; }

    public ModelInfo Info { get; }

    /// <summary>Set once by the loader, right after construction.</summary>
    public ModelBatcher Batcher { get; set; } = null!;

    public bool Serves(Timeframe timeframe)
    {
        foreach (var t in Timeframes)
        {
            if (t == timeframe)
            {
                return true;
            }
        }

        return false;
    }

    public ModelPrediction ToPrediction(float down, float flat, float up) =>
        new(Name, Version, Family, IsShadow, Weight, down, flat, up);

    /// <summary>Takes a reference for one request; false once the model is retired and drained.</summary>
    public bool TryAcquire()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>Returns <paramref name="count"/> references; the last one stops the batcher, which then releases the session.</summary>
    public void Release(int count = 1)
    {
        if (Interlocked.Add(ref _references, -count) == 0)
        {
            Batcher.Stop();
        }
    }

    /// <summary>Drops the model set's reference: no new requests once the in-flight ones are delivered.</summary>
    public void Retire() => Release();
}
