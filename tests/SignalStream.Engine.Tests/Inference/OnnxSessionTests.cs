using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Tests.Inference;

public sealed class OnnxSessionTests
{
    private static readonly OnnxSessionSettings s_oneThread = new(IntraOpThreads: 1);

    [Fact]
    public void SessionReportsTheModelsInputAndOutputWithADynamicBatchAxis()
    {
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-lstm.onnx"), s_oneThread);

        var input = Assert.Single(session.Inputs);
        Assert.Equal("features", input.Name);
        Assert.Equal(OnnxElementType.Float32, input.ElementType);
        Assert.Equal(3, input.Shape.Length);
        Assert.True(input.Shape[0] < 0, "the batch axis is dynamic");
        Assert.Equal([6L, 3L], input.Shape[1..]);

        var output = Assert.Single(session.Outputs);
        Assert.Equal("probabilities", output.Name);
        Assert.Equal(OnnxElementType.Float32, output.ElementType);
        Assert.Equal(3, output.Shape[1]);
    }

    [Theory]
    [InlineData("tiny-lstm")]
    [InlineData("tiny-mean")]
    [InlineData("bench-mlp")]
    [InlineData("bench-mlp-row")]
    [InlineData("bench-lstm")]
    public void FixtureModelsMatchTheirReferenceOutputsWithinTolerance(string name)
    {
        using var session = OnnxSession.Create(Fixtures.Bytes(name + ".onnx"), s_oneThread);
        var (inputs, expected) = Fixtures.Parity(Fixtures.PathOf(name + ".parity.json"));
        var actual = RunAll(session, inputs);
        AssertClose(expected, actual, 1e-5f);
    }

    [Fact]
    public void CorruptModelBytesRaiseAnOnnxRuntimeExceptionCarryingOrtsMessage()
    {
        var bytes = Fixtures.Bytes("tiny-mean.onnx");
        Array.Reverse(bytes);

        var ex = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create(bytes, s_oneThread));

        Assert.NotEqual(OrtErrorCode.Ok, ex.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(ex.RuntimeMessage));
        Assert.Contains(ex.RuntimeMessage, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunningOnAShapeTheModelRejectsRaisesOrtsErrorInsteadOfCrashing()
    {
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), s_oneThread);
        using var input = new NativeTensor(2, 5, 2); // the model wants a window of 4
        using var output = new NativeTensor(2, 3);

        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(input.Value, output.Value));

        Assert.Contains("features", ex.RuntimeMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void RunOnPreCreatedTensorsAllocatesNothingOnTheManagedHeap()
    {
        using var session = OnnxSession.Create(Fixtures.Bytes("bench-mlp.onnx"), s_oneThread);
        using var input = new NativeTensor(8, 64, 16);
        using var output = new NativeTensor(8, 3);
        input.Data.Fill(0.25f);
        session.Run(input.Value, output.Value); // warm-up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 100; n++)
        {
            session.Run(input.Value, output.Value);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1f, output.Data[0] + output.Data[1] + output.Data[2], 1e-5f);
    }

    internal static float[][] RunAll(OnnxSession session, float[][][] samples)
    {
        var window = samples[0].Length;
        var features = samples[0][0].Length;
        var input = samples.SelectMany(s => s.SelectMany(r => r)).ToArray();
        return session.Run(input, samples.Length, window, features).Chunk(3).ToArray();
    }

    internal static void AssertClose(float[][] expected, IReadOnlyList<float[]> actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var r = 0; r < expected.Length; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                var diff = Math.Abs(expected[r][c] - actual[r][c]);
                Assert.True(diff <= tolerance, $"row {r} class {c}: expected {expected[r][c]}, got {actual[r][c]} (|diff| {diff} > {tolerance})");
            }
        }
    }
}
