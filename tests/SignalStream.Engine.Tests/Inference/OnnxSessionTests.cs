using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
        Assert.True(input.IsTensor);
        Assert.Equal(TensorElementType.Float, input.ElementType);
        Assert.Equal(3, input.Shape.Length);
        Assert.True(input.Shape[0] < 0, "the batch axis is dynamic");
        Assert.Equal([6L, 3L], input.Shape[1..]);

        var output = Assert.Single(session.Outputs);
        Assert.Equal("probabilities", output.Name);
        Assert.Equal(TensorElementType.Float, output.ElementType);
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
    public void CorruptModelBytesRaiseOrtsOnnxRuntimeExceptionWithItsMessage()
    {
        var bytes = Fixtures.Bytes("tiny-mean.onnx");
        Array.Reverse(bytes);

        var ex = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Create(bytes, s_oneThread));

        Assert.Contains("ErrorCode", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void RunningOnAShapeTheModelRejectsRaisesOrtsErrorInsteadOfCrashing()
    {
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), s_oneThread);
        using var memory = new NativeRows(2 * 5 * 2, 2 * 3);
        using var binding = session.Bind(memory.Input, memory.Output, rows: 2, window: 5, features: 2); // the model wants a window of 4

        var ex = Assert.Throws<OnnxRuntimeException>(() => session.Run(binding));

        Assert.Contains("features", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void ABindingReadsTheRowsWrittenSinceItWasBound()
    {
        // Bound once, run many times: each run must see the batch buffer as it is now, not as it was at bind time.
        using var session = OnnxSession.Create(Fixtures.Bytes("tiny-mean.onnx"), s_oneThread);
        var (inputs, expected) = Fixtures.Parity(Fixtures.PathOf("tiny-mean.parity.json"));
        var rowLength = 4 * 2;
        using var memory = new NativeRows(rowLength, 3);
        using var binding = session.Bind(memory.Input, memory.Output, rows: 1, window: 4, features: 2);

        for (var i = 0; i < inputs.Length; i++)
        {
            Samples.Flatten(inputs[i]).CopyTo(new Span<float>(memory.Input, rowLength));
            session.Run(binding);
            AssertClose([expected[i]], [new ReadOnlySpan<float>(memory.Output, 3).ToArray()], 1e-5f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(512)]
    public unsafe void RunThroughABindingAllocatesNothingOnTheManagedHeap(int rows)
    {
        using var session = OnnxSession.Create(Fixtures.Bytes("bench-mlp.onnx"), s_oneThread);
        using var memory = new NativeRows(rows * 64 * 16, rows * 3);
        new Span<float>(memory.Input, rows * 64 * 16).Fill(0.25f);
        using var binding = session.Bind(memory.Input, memory.Output, rows, window: 64, features: 16);
        session.Run(binding); // warm-up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 20; n++)
        {
            session.Run(binding);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1f, memory.Output[0] + memory.Output[1] + memory.Output[2], 1e-5f);
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

    /// <summary>Input and output rows in native memory, as the batcher keeps them.</summary>
    private sealed unsafe class NativeRows : IDisposable
    {
        public NativeRows(int inputFloats, int outputFloats)
        {
            Input = (float*)NativeMemory.AllocZeroed((nuint)inputFloats, sizeof(float));
            Output = (float*)NativeMemory.AllocZeroed((nuint)outputFloats, sizeof(float));
        }

        public float* Input { get; }

        public float* Output { get; }

        public void Dispose()
        {
            NativeMemory.Free(Input);
            NativeMemory.Free(Output);
        }
    }
}
