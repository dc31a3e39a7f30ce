using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Tests.Inference;

public sealed class RecurrenceTests
{
    private static readonly Recurrence s_chain4 = new(Chain: 4, StateWidth: 8, "state", "state_out");
    private static readonly float[] s_state = [1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [InlineData(8, 9, new float[] { 1, 2, 3, 4, 5, 6, 7, 8 })]      // same period: as it was
    [InlineData(8, 11, new float[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData(11, 12, new float[] { 5, 6, 7, 8, 0, 0, 0, 0 })]     // next period: young becomes old, a new young from zero
    [InlineData(9, 15, new float[] { 5, 6, 7, 8, 0, 0, 0, 0 })]
    [InlineData(11, 16, new float[] { 0, 0, 0, 0, 0, 0, 0, 0 })]     // two periods on (a hole): both from zero
    [InlineData(StreamFeatureState.NoBar, 9, new float[] { 0, 0, 0, 0, 0, 0, 0, 0 })] // no state yet
    public void ARowStartsFromTheStateRolledOverToItsBar(long lastBar, long bar, float[] expected)
    {
        var destination = new float[8];
        s_chain4.Roll(s_state, lastBar, bar, destination);
        Assert.Equal(expected, destination);
    }

    [Theory]
    [InlineData(8, 4, 4, true)]      // bar 8 reads the chain anchored at 4
    [InlineData(11, 4, 4, true)]
    [InlineData(11, 5, 4, false)]    // the stream's rows begin after that anchor
    [InlineData(12, 5, 8, true)]
    [InlineData(3, 0, -4, false)]    // before the stream began
    public void APredictionIsCompleteOnlyWhenItsOldChainBeginsAtOrAfterTheFirstWarmRow(long bar, long firstWarmBar, long anchor, bool complete)
    {
        Assert.Equal(anchor, s_chain4.OldAnchor(bar));
        Assert.Equal(complete, s_chain4.IsComplete(bar, firstWarmBar));
        Assert.False(s_chain4.IsComplete(bar, StreamFeatureState.NoBar));
    }
}
