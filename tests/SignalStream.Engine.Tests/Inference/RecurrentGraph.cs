using System.Runtime.InteropServices;
using System.Text.Json;
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

    /// <summary>T steps of one row each, every sample's state carried from one to the next.</summary>
    public static (float[] Probabilities, float[] State) StepRowByRow(OnnxSession session, float[] inputs, float[] state, RecurrentParity parity)
    {
        var probabilities = Array.Empty<float>();
        var row = new float[parity.Samples * parity.Features];
        for (var t = 0; t < parity.Steps; t++)
        {
            for (var s = 0; s < parity.Samples; s++)
            {
                inputs.AsSpan(((s * parity.Steps) + t) * parity.Features, parity.Features).CopyTo(row.AsSpan(s * parity.Features));
            }

            (probabilities, state) = Run(session, row, state, parity.Samples, 1, parity.Features, parity.StateWidth);
        }

        return (probabilities, state);
    }
}

/// <summary>
/// recurrent.py's parity file: <c>{ "steps": T, "inputs": [[[...]]], "state": [[...]], "outputs": [[...]],
/// "stateOut": [[...]] }</c>, flattened row-major.
/// </summary>
internal sealed record RecurrentParity(int Samples, int Steps, int Features, int StateWidth, float[] Inputs, float[] State, float[] Outputs,
    float[] StateOut)
{
    public static RecurrentParity Read(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        var inputs = root.GetProperty("inputs");
        var samples = inputs.GetArrayLength();
        var features = inputs[0][0].GetArrayLength();
        return new RecurrentParity(samples, root.GetProperty("steps").GetInt32(), features, root.GetProperty("state")[0].GetArrayLength(),
            Flatten(inputs), Flatten(root.GetProperty("state")), Flatten(root.GetProperty("outputs")), Flatten(root.GetProperty("stateOut")));
    }

    private static float[] Flatten(JsonElement element)
    {
        var values = new List<float>();
        Add(element);
        return [.. values];

        void Add(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var child in e.EnumerateArray())
                {
                    Add(child);
                }
            }
            else
            {
                values.Add(e.GetSingle());
            }
        }
    }
}
