using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>Copies a stream's latest feature window into a batch row.</summary>
internal readonly struct FeatureWindowWriter(StreamFeatureState state, int[] featureIndices, int window) : IBatchRowWriter
{
    public void Write(Span<float> row) => state.CopyWindow(featureIndices, window, row);
}
