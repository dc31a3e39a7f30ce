using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>A model input or output as the session reports it; -1 (or any negative) marks a dynamic dimension.</summary>
/// <param name="ElementType">Meaningful only when <paramref name="ValueType"/> is a tensor.</param>
internal sealed record OnnxTensorInfo(string Name, OnnxValueType ValueType, TensorElementType ElementType, long[] Shape)
{
    public bool IsTensor => ValueType == OnnxValueType.ONNX_TYPE_TENSOR;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A float32 tensor over caller-owned native memory, for the model input or output named <paramref name="Name"/>.</summary>
internal readonly record struct OnnxTensorMemory(string Name, IntPtr Data, long[] Shape);

/// <summary>A float32 tensor in a managed array, for <see cref="OnnxSession.Run(ReadOnlySpan{OnnxTensorData}, ReadOnlySpan{OnnxTensorData})"/>.</summary>
internal readonly record struct OnnxTensorData(string Name, float[] Data, long[] Shape);

/// <summary>How sessions are created (from <see cref="InferenceOptions"/>).</summary>
/// <param name="IntraOpThreads">Threads one Run may use; 1 keeps inference on the calling thread.</param>
/// <param name="IntraOpSpinning">Whether idle intra-op threads spin between runs (only matters above one thread).</param>
internal readonly record struct OnnxSessionSettings(
    int IntraOpThreads,
    OnnxProvider Provider = OnnxProvider.Cpu,
    int DeviceId = 0,
    bool IntraOpSpinning = false);

/// <summary>
/// One ONNX Runtime inference session with one input and one output (the shape every SignalStream model has), run
/// through <see cref="OnnxBinding"/>s: tensors over caller-owned native memory, bound once, so a steady-state
/// <see cref="Run"/> allocates nothing.
/// </summary>
internal sealed class OnnxSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();

    private OnnxSession(InferenceSession session, OnnxProvider provider)
    {
        _session = session;
        Provider = provider;
        Inputs = Describe(session.InputNames, session.InputMetadata);
        Outputs = Describe(session.OutputNames, session.OutputMetadata);
    }

    public IReadOnlyList<OnnxTensorInfo> Inputs { get; }

    public IReadOnlyList<OnnxTensorInfo> Outputs { get; }

    public OnnxProvider Provider { get; }

    /// <summary>Creates a session from model bytes (the bytes whose hash was checked, so nothing can swap the file in between).</summary>
    /// <exception cref="OnnxRuntimeException">ORT rejected the model (corrupt bytes, unsupported operators, …) or the provider cannot start.</exception>
    public static OnnxSession Create(byte[] model, OnnxSessionSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.IntraOpThreads, 1);
        using var options = new SessionOptions
        {
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        // Spinning intra-op workers burn a core between runs; on a shared box the wake-up cost is the better trade.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", settings.IntraOpSpinning ? "1" : "0");
        OnnxProviders.Append(options, settings.Provider, settings.DeviceId);
        return new OnnxSession(new InferenceSession(model, options), settings.Provider);
    }

    /// <summary>
    /// Float32 tensors of <paramref name="rows"/> x [<paramref name="window"/>][<paramref name="features"/>] at
    /// <paramref name="input"/> and <paramref name="rows"/> x <paramref name="outputs"/> at <paramref name="output"/>,
    /// bound to this session's input and output. The memory must stay allocated until the binding is disposed.
    /// </summary>
    public unsafe OnnxBinding Bind(float* input, float* output, int rows, int window, int features, int outputs = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        return new OnnxBinding(_session, Inputs[0].Name, Outputs[0].Name, (IntPtr)input, [rows, window, features],
            (IntPtr)output, [rows, outputs], rebindInputPerRun: Provider != OnnxProvider.Cpu);
    }

    /// <summary>
    /// Tensors bound to the named inputs and outputs, for a model with more than one of either (a recurrent model's
    /// state goes in and comes out beside its features and probabilities). The memory must stay allocated until the
    /// binding is disposed.
    /// </summary>
    public OnnxBinding Bind(ReadOnlySpan<OnnxTensorMemory> inputs, ReadOnlySpan<OnnxTensorMemory> outputs) =>
        new(_session, inputs, outputs, rebindInputPerRun: Provider != OnnxProvider.Cpu);

    /// <summary>Runs the model on what <paramref name="binding"/>'s input memory holds now; ORT writes the output memory in place.</summary>
    /// <exception cref="OnnxRuntimeException">The run failed (for example a shape the model rejects).</exception>
    public void Run(OnnxBinding binding)
    {
        binding.PrepareRun();
        _session.RunWithBinding(_runOptions, binding.IoBinding);
    }

    /// <summary>Runs <paramref name="rows"/> samples of [<paramref name="window"/>][<paramref name="features"/>] and returns [rows][3].
    /// Allocates: for load-time checks and tests, not the serving path.</summary>
    public float[] Run(ReadOnlySpan<float> input, int rows, int window, int features, int outputs = 3)
    {
        var output = new float[checked(rows * outputs)];
        Run([new OnnxTensorData(Inputs[0].Name, input[..checked(rows * window * features)].ToArray(), [rows, window, features])],
            [new OnnxTensorData(Outputs[0].Name, output, [rows, outputs])]);
        return output;
    }

    /// <summary>
    /// Runs the model on managed arrays, any number of named inputs and outputs (each output array is filled). Copies
    /// through native memory bound for the one run. Allocates: for load-time checks and tests, not the serving path.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">The run failed (for example a shape the model rejects).</exception>
    public unsafe void Run(ReadOnlySpan<OnnxTensorData> inputs, ReadOnlySpan<OnnxTensorData> outputs)
    {
        var all = new OnnxTensorData[inputs.Length + outputs.Length];
        inputs.CopyTo(all);
        outputs.CopyTo(all.AsSpan(inputs.Length));
        var memory = new IntPtr[all.Length];
        try
        {
            var tensors = new OnnxTensorMemory[all.Length];
            for (var i = 0; i < all.Length; i++)
            {
                var data = all[i].Data;
                memory[i] = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(data.Length, 1) * sizeof(float), 64);
                data.CopyTo(new Span<float>((void*)memory[i], data.Length));
                tensors[i] = new OnnxTensorMemory(all[i].Name, memory[i], all[i].Shape);
            }

            using (var binding = Bind(tensors.AsSpan(0, inputs.Length), tensors.AsSpan(inputs.Length)))
            {
                Run(binding);
            }

            for (var i = inputs.Length; i < all.Length; i++)
            {
                new ReadOnlySpan<float>((void*)memory[i], all[i].Data.Length).CopyTo(all[i].Data);
            }
        }
        finally
        {
            foreach (var pointer in memory)
            {
                NativeMemory.AlignedFree((void*)pointer);
            }
        }
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }

    private static OnnxTensorInfo[] Describe(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        var result = new OnnxTensorInfo[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var node = metadata[names[i]];
            result[i] = node.IsTensor
                ? new OnnxTensorInfo(names[i], node.OnnxValueType, node.ElementDataType, Array.ConvertAll(node.Dimensions, d => (long)d))
                : new OnnxTensorInfo(names[i], node.OnnxValueType, default, []);
        }

        return result;
    }
}

/// <summary>
/// A session's inputs and outputs bound to fixed tensors over native memory (ORT's <see cref="OrtIoBinding"/>):
/// made once per batch row count and reused, so running it allocates nothing on the managed heap.
/// </summary>
/// <remarks>
/// ORT copies a bound input to the provider's device when it is bound, not when the model runs. On the CPU provider
/// the tensor is used in place, so binding once is right; on a GPU provider the input is bound again before every
/// run so the run sees the rows written since (that rebind allocates the input name's UTF-8 bytes).
/// </remarks>
internal sealed class OnnxBinding : IDisposable
{
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly string[] _inputNames;
    private readonly bool _rebindInputPerRun;

    internal OnnxBinding(InferenceSession session, string inputName, string outputName, IntPtr input, long[] inputShape,
        IntPtr output, long[] outputShape, bool rebindInputPerRun)
        : this(session, [new OnnxTensorMemory(inputName, input, inputShape)], [new OnnxTensorMemory(outputName, output, outputShape)],
            rebindInputPerRun)
    {
    }

    internal OnnxBinding(InferenceSession session, ReadOnlySpan<OnnxTensorMemory> inputs, ReadOnlySpan<OnnxTensorMemory> outputs,
        bool rebindInputPerRun)
    {
        _rebindInputPerRun = rebindInputPerRun;
        var values = new List<OrtValue>(inputs.Length + outputs.Length);
        OrtIoBinding? binding = null;
        try
        {
            binding = session.CreateIoBinding();
            foreach (var tensor in inputs)
            {
                var value = Tensor(tensor);
                values.Add(value);
                binding.BindInput(tensor.Name, value);
            }

            foreach (var tensor in outputs)
            {
                var value = Tensor(tensor);
                values.Add(value);
                binding.BindOutput(tensor.Name, value);
            }
        }
        catch
        {
            binding?.Dispose();
            values.ForEach(v => v.Dispose());
            throw;
        }

        _inputs = values.GetRange(0, inputs.Length).ToArray();
        _outputs = values.GetRange(inputs.Length, outputs.Length).ToArray();
        _inputNames = new string[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            _inputNames[i] = inputs[i].Name;
        }

        IoBinding = binding;
    }

    internal OrtIoBinding IoBinding { get; }

    internal void PrepareRun()
    {
        if (_rebindInputPerRun)
        {
            for (var i = 0; i < _inputs.Length; i++)
            {
                IoBinding.BindInput(_inputNames[i], _inputs[i]);
            }
        }
    }

    public void Dispose()
    {
        IoBinding.Dispose();
        foreach (var value in _inputs)
        {
            value.Dispose();
        }

        foreach (var value in _outputs)
        {
            value.Dispose();
        }
    }

    private static OrtValue Tensor(OnnxTensorMemory tensor) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, tensor.Shape, tensor.Data,
            ElementCount(tensor.Shape) * sizeof(float));

    private static long ElementCount(long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            count *= d;
        }

        return count;
    }
}
