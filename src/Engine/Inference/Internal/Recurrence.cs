using SignalStream.Engine.Features;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// How a recurrent model reads a stream: two chains of LSTM state per stream, stepped with every row, restarted from
/// zero on bars that are multiples of <see cref="Chain"/>; a prediction is the older chain read after the row.
/// </summary>
/// <remarks>
/// The prediction at bar k is the model run from a zero state over the stream's rows with bar in
/// [L·(⌊k/L⌋ − 1), k] (its old chain), so it depends only on the stream's rows, never on when the node started:
/// a restart or a reload replays those rows and predicts the same. docs/models.md, "A recurrent LSTM", has the
/// semantics and why training uses the same ones.
/// </remarks>
/// <param name="Chain">Chain length L, in bars.</param>
/// <param name="StateWidth">Floats of state per stream: the old chain's half first, then the young chain's.</param>
/// <param name="StateInput">The graph's state input.</param>
/// <param name="StateOutput">The graph's state output (the state after the row).</param>
internal sealed record Recurrence(int Chain, int StateWidth, string StateInput, string StateOutput)
{
    /// <summary>Rows a stream must keep to rebuild both chains before its newest row: up to 2L before it, and it.</summary>
    public int RowsKept => (2 * Chain) + 1;

    /// <summary>The chain period of a bar (⌊bar/L⌋).</summary>
    public long Period(long bar) => bar >= 0 ? bar / Chain : -((-bar + Chain - 1) / Chain);

    /// <summary>The first bar of the old chain a prediction at <paramref name="bar"/> reads.</summary>
    public long OldAnchor(long bar) => (Period(bar) - 1) * Chain;

    /// <summary>
    /// Whether the prediction at <paramref name="bar"/> reads a whole old chain: the stream's rows reach back to its
    /// anchor. Training drops the chains that would start before a stream's first warm row; serving skips them too.
    /// </summary>
    public bool IsComplete(long bar, long firstWarmBar) => firstWarmBar != StreamFeatureState.NoBar && firstWarmBar <= OldAnchor(bar);

    /// <summary>
    /// The state a row at <paramref name="bar"/> starts from, given the state after the stream's row at
    /// <paramref name="lastBar"/>: unchanged within a period; one period on, the young chain becomes the old one and a
    /// new young chain starts from zero; further on (or with no state), both start from zero.
    /// </summary>
    public void Roll(ReadOnlySpan<float> state, long lastBar, long bar, Span<float> destination)
    {
        var half = StateWidth / 2;
        var step = lastBar == StreamFeatureState.NoBar ? long.MaxValue : Period(bar) - Period(lastBar);
        if (step == 0)
        {
            state.CopyTo(destination);
        }
        else if (step == 1)
        {
            state[half..].CopyTo(destination[..half]);
            destination[half..].Clear();
        }
        else
        {
            destination.Clear();
        }
    }
}
