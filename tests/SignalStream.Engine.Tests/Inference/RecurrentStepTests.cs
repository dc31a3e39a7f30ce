using System.Text.Json;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Tests.Inference;

/// <summary>
/// The recurrent LSTMs of issue 18.4 (models/train/recurrent.py; fixtures, not bundled) through the real ONNX Runtime:
/// one serving step takes <c>features</c> [B, T, F] and <c>state</c> [B, 4H] (a stream's old and young chains) and
/// returns <c>probabilities</c> (the old chain after the last row) and <c>state_out</c>. The engine would step T = 1
/// per candle and T rows to catch up, so both must give the same numbers, and PyTorch's.
/// </summary>
public sealed class RecurrentStepTests
{
    private const float Tolerance = 1e-5f;
    private static readonly OnnxSessionSettings s_oneThread = new(IntraOpThreads: 1);

    [Theory]
    [InlineData("lstm-direction-1.4.0-r32")]
    [InlineData("lstm-shadow-2.1.0-r32")]
    public void OneRunOverTheRowsMatchesThePyTorchParityVectors(string model)
    {
        var parity = RecurrentParity.Read(Fixtures.PathOf(model + ".parity.json"));
        using var session = OnnxSession.Create(Fixtures.Bytes(model + ".onnx"), s_oneThread);

        var (probabilities, state) = RecurrentGraph.Run(session, parity.Inputs, parity.State, parity.Samples, parity.Steps, parity.Features, parity.StateWidth);

        AssertClose(parity.Outputs, probabilities, "probabilities");
        AssertClose(parity.StateOut, state, "state_out");
    }

    [Theory]
    [InlineData("lstm-direction-1.4.0-r32", "lstm-direction-1.4.0-r32")]
    [InlineData("lstm-direction-1.4.0-r32", "lstm-direction-1.4.0-r32-step")]
    [InlineData("lstm-shadow-2.1.0-r32", "lstm-shadow-2.1.0-r32")]
    [InlineData("lstm-shadow-2.1.0-r32", "lstm-shadow-2.1.0-r32-step")]
    public void SteppingOneRowAtATimeMatchesThePyTorchParityVectors(string model, string graph)
    {
        var parity = RecurrentParity.Read(Fixtures.PathOf(model + ".parity.json"));
        using var session = OnnxSession.Create(Fixtures.Bytes(graph + ".onnx"), s_oneThread);

        var (probabilities, state) = RecurrentGraph.StepRowByRow(session, parity.Inputs, parity.State, parity);

        AssertClose(parity.Outputs, probabilities, "probabilities");
        AssertClose(parity.StateOut, state, "state_out");
    }

    [Theory]
    [InlineData("lstm-direction-1.4.0-r32")]
    [InlineData("lstm-shadow-2.1.0-r32")]
    public void FromAZeroStateSteppingRowByRowEqualsOneRunOverTheRows(string model)
    {
        // A fresh chain pair (a stream's first rows, or both chains restarted after a hole).
        var parity = RecurrentParity.Read(Fixtures.PathOf(model + ".parity.json"));
        var zero = new float[parity.Samples * parity.StateWidth];
        using var lstm = OnnxSession.Create(Fixtures.Bytes(model + ".onnx"), s_oneThread);
        using var unrolled = OnnxSession.Create(Fixtures.Bytes(model + "-step.onnx"), s_oneThread);

        var (once, onceState) = RecurrentGraph.Run(lstm, parity.Inputs, zero, parity.Samples, parity.Steps, parity.Features, parity.StateWidth);
        var (lstmStepped, lstmState) = RecurrentGraph.StepRowByRow(lstm, parity.Inputs, zero, parity);
        var (unrolledStepped, unrolledState) = RecurrentGraph.StepRowByRow(unrolled, parity.Inputs, zero, parity);

        AssertClose(once, lstmStepped, "probabilities, LSTM operator stepped");
        AssertClose(onceState, lstmState, "state_out, LSTM operator stepped");
        AssertClose(once, unrolledStepped, "probabilities, unrolled step");
        AssertClose(onceState, unrolledState, "state_out, unrolled step");
        Assert.Contains(once, p => p > 0.34f);   // not a degenerate uniform model
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= Tolerance, $"{what}[{i}]: expected {expected[i]}, got {actual[i]} (|diff| {diff} > {Tolerance})");
        }
    }
}
