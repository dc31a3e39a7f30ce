using System.Runtime.InteropServices;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>Runs a recurrent model's graph (<c>features</c> [B, T, F] and <c>state</c> [B, 4H] in, <c>probabilities</c> and <c>state_out</c> out) outside the engine.</summary>
internal static class RecurrentGraph
{
    /// <summary>One run with both inputs and both outputs bound over native memory, as a batcher would bind them.</summary>
    public static unsafe (float[] Probabilities, float[] State) Run(OnnxSession session, float[] features, float[] state, int rows,
        int steps, int featureCount, int stateWidth)
    {
        var lengths = new[] { rows * steps * featureCount, rows * stateWidth, rows * 3, rows * stateWidth };
        var memory = lengths.Select(n => (IntPtr)NativeMemory.AlignedAlloc((nuint)n * sizeof(float), 64)).ToArray();
        try
        {
            features.AsSpan(0, lengths[0]).CopyTo(new Span<float>((void*)memory[0], lengths[0]));
            state.AsSpan(0, lengths[1]).CopyTo(new Span<float>((void*)memory[1], lengths[1]));
            using var binding = session.Bind(
                [new OnnxTensorMemory("features", memory[0], [rows, steps, featureCount]), new OnnxTensorMemory("state", memory[1], [rows, stateWidth])],
                [new OnnxTensorMemory("probabilities", memory[2], [rows, 3]), new OnnxTensorMemory("state_out", memory[3], [rows, stateWidth])]);
            session.Run(binding);
            return (new ReadOnlySpan<float>((void*)memory[2], lengths[2]).ToArray(), new ReadOnlySpan<float>((void*)memory[3], lengths[3]).ToArray());
        }
        finally
        {
            foreach (var pointer in memory)
            {
                NativeMemory.AlignedFree((void*)pointer);
            }
        }
    }
}
