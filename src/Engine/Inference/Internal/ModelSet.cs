using SignalStream.Contracts;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>An immutable snapshot of the registry: the serving models, per timeframe, and every model's status.</summary>
internal sealed class ModelSet
{
    private readonly LoadedModel[][] _byTimeframe;

    public ModelSet(IReadOnlyList<Entry> entries)
    {
        Entries = entries;
        Models = entries.Where(e => e.Model is not null).Select(e => e.Model!).ToArray();
        Infos = entries.Select(e => e.Info).ToArray();
        _byTimeframe = Contracts.Timeframes.All.Select(tf => Models.Where(m => m.Serves(tf)).ToArray()).ToArray();
        MaxWindow = Models.Length == 0 ? 1 : Models.Max(m => m.RowsKept);
        HasRecurrentModels = Models.Any(m => m.Recurrence is not null);
    }

    public static ModelSet Empty { get; } = new([]);

    /// <summary>One per manifest file, with the fingerprint that tells a rescan whether it changed.</summary>
    public IReadOnlyList<Entry> Entries { get; }

    public LoadedModel[] Models { get; }

    public IReadOnlyList<ModelInfo> Infos { get; }

    /// <summary>The most rows any serving model needs kept (its window, or a recurrent model's chains): the feature state's row capacity.</summary>
    public int MaxWindow { get; }

    /// <summary>Whether any serving model carries state per stream.</summary>
    public bool HasRecurrentModels { get; }

    /// <summary>Models that serve <paramref name="timeframe"/> (a cached array: no allocation per candle).</summary>
    public LoadedModel[] For(Timeframe timeframe) => _byTimeframe[(int)timeframe];

    internal sealed record Entry(string ManifestPath, string Fingerprint, LoadedModel? Model, ModelInfo Info);
}
