using SignalStream.Engine.Features;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// One stream's two chains in one recurrent model: the state after the last row the model stepped, and what the
/// reader has queued since. The reader plans each row (<see cref="Next"/>); the model's one worker steps it.
/// </summary>
internal sealed class StreamChain(int stateWidth)
{
    private long _queuedThrough = StreamFeatureState.NoBar;
    private int _mustRebuild;

    /// <summary>The state after the row at <see cref="LastBar"/> (old chain's half, then the young one's). The worker's.</summary>
    public float[] State { get; } = new float[stateWidth];

    /// <summary>The bar of the row <see cref="State"/> is after; <see cref="StreamFeatureState.NoBar"/> for none. The worker's.</summary>
    public long LastBar { get; set; } = StreamFeatureState.NoBar;

    /// <summary>The sequence of the batch that holds the stream's latest queued row (the batcher's, under its lock).</summary>
    public long Batch { get; set; }

    /// <summary>Called by the worker when it could not step a row (its batch failed, or the state was not where the row
    /// expected it): the reader's next row for the stream rebuilds the chains from the rows it holds.</summary>
    public void MustRebuild() => Volatile.Write(ref _mustRebuild, 1);

    /// <summary>Whether the stream's newest row has been queued (the reader's view: the worker may not have stepped it yet).</summary>
    public bool IsCurrent(StreamFeatureState features) => _queuedThrough == features.BarAgo(0) && Volatile.Read(ref _mustRebuild) == 0;

    /// <summary>
    /// How the stream's newest row is queued: stepped from the state the stream's previous row leaves, when that row was
    /// queued; otherwise (the stream's first row for this model, a reload, a row that was not queued or not stepped)
    /// with the earlier rows both chains are rebuilt from, from zero. The reader's; one call per row queued.
    /// </summary>
    public RecurrentRow Next(StreamFeatureState features, int[] featureIndices, Recurrence recurrence)
    {
        var bar = features.BarAgo(0);
        var previous = features.BarAgo(1);
        var rebuild = Interlocked.Exchange(ref _mustRebuild, 0) == 1 || previous == StreamFeatureState.NoBar || _queuedThrough != previous;
        var earlier = 0;
        if (rebuild && previous != StreamFeatureState.NoBar)
        {
            // The rows of the previous row's old chain, through the previous row (the newest is stepped last).
            var from = Math.Max(recurrence.OldAnchor(previous), features.FirstWarmBar);
            earlier = features.RowsSince(from) - 1;
        }

        _queuedThrough = bar;
        return new RecurrentRow(features, featureIndices, this, bar, previous, rebuild, earlier,
            recurrence.IsComplete(bar, features.FirstWarmBar));
    }
}

/// <summary>
/// A recurrent model's request for one stream's newest row: the row, and how the state it steps from is had.
/// </summary>
/// <param name="Bar">The newest row's bar.</param>
/// <param name="PreviousBar">The bar of the stream's row before it (<see cref="StreamFeatureState.NoBar"/>: none): the
/// state the row steps from must be after that row.</param>
/// <param name="Rebuild">The chains are rebuilt from zero over <paramref name="Earlier"/> rows before the newest.</param>
/// <param name="Earlier">Rows before the newest to step first (only when rebuilding).</param>
/// <param name="Complete">The prediction reads a whole old chain; otherwise the row only steps the state.</param>
internal readonly record struct RecurrentRow(
    StreamFeatureState Features,
    int[] FeatureIndices,
    StreamChain Chain,
    long Bar,
    long PreviousBar,
    bool Rebuild,
    int Earlier,
    bool Complete);
