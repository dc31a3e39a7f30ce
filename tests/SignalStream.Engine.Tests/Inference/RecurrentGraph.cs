using System.Text.Json;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>Runs a recurrent model's graph (<c>features</c> [B, T, F] and <c>state</c> [B, 4H] in, <c>probabilities</c> and <c>state_out</c> out) outside the engine.</summary>
internal static class RecurrentGraph
{
    /// <summary>One run of <paramref name="rows"/> samples of <paramref name="steps"/> rows, each from its state.</summary>
    public static (float[] Probabilities, float[] State) Run(OnnxSession session, float[] features, float[] state, int rows,
        int steps, int featureCount, int stateWidth)
    {
        var probabilities = new float[rows * 3];
        var stateOut = new float[rows * stateWidth];
        session.Run(
            [new OnnxTensorData("features", features[..(rows * steps * featureCount)], [rows, steps, featureCount]), new OnnxTensorData("state", state[..(rows * stateWidth)], [rows, stateWidth])],
            [new OnnxTensorData("probabilities", probabilities, [rows, 3]), new OnnxTensorData("state_out", stateOut, [rows, stateWidth])]);
        return (probabilities, stateOut);
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
