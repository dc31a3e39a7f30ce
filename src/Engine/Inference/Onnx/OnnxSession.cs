using System.Runtime.InteropServices;
using System.Text;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>ONNX tensor element types the engine names (ONNX's <c>TensorProto.DataType</c> numbering).</summary>
internal enum OnnxElementType
{
    Undefined = 0,
    Float32 = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Float64 = 11,
}

/// <summary>A model input or output as the session reports it; -1 (or any negative) marks a dynamic dimension.</summary>
internal sealed record OnnxTensorInfo(string Name, OnnxElementType ElementType, long[] Shape)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>How sessions are created.</summary>
/// <param name="IntraOpThreads">Threads one Run may use; 1 keeps inference on the calling thread.</param>
internal readonly record struct OnnxSessionSettings(int IntraOpThreads);

/// <summary>
/// One ONNX Runtime inference session with one input and one output (the shape every SignalStream model has),
/// run on caller-owned tensors so a steady-state <see cref="Run"/> allocates nothing.
/// </summary>
internal sealed unsafe class OnnxSession : IDisposable
{
    private readonly OrtSessionHandle _session;
    private readonly IntPtr _inputName;   // NUL-terminated UTF-8, native memory, freed on dispose
    private readonly IntPtr _outputName;

    private OnnxSession(OrtSessionHandle session, IReadOnlyList<OnnxTensorInfo> inputs, IReadOnlyList<OnnxTensorInfo> outputs)
    {
        _session = session;
        Inputs = inputs;
        Outputs = outputs;
        _inputName = inputs.Count > 0 ? AllocUtf8(inputs[0].Name) : IntPtr.Zero;
        _outputName = outputs.Count > 0 ? AllocUtf8(outputs[0].Name) : IntPtr.Zero;
    }

    public IReadOnlyList<OnnxTensorInfo> Inputs { get; }

    public IReadOnlyList<OnnxTensorInfo> Outputs { get; }

    /// <summary>Creates a session from model bytes (the bytes whose hash was checked, so nothing can swap the file in between).</summary>
    /// <exception cref="OnnxRuntimeException">ORT rejected the model (corrupt bytes, unsupported operators, …).</exception>
    public static OnnxSession Create(ReadOnlySpan<byte> model, OnnxSessionSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.IntraOpThreads, 1);
        var api = OrtApi.Api;
        IntPtr raw;
        using var options = new OrtSessionOptionsHandle();
        OrtApi.Check(api.CreateSessionOptions(&raw));
        options.Adopt(raw);
        OrtApi.Check(api.SetIntraOpNumThreads(options.Pointer, settings.IntraOpThreads));
        OrtApi.Check(api.SetInterOpNumThreads(options.Pointer, 1));
        OrtApi.Check(api.SetSessionExecutionMode(options.Pointer, 0));          // ORT_SEQUENTIAL
        OrtApi.Check(api.SetSessionGraphOptimizationLevel(options.Pointer, 99)); // ORT_ENABLE_ALL
        // Spinning intra-op workers burn a core between runs; on a shared box the wake-up cost is the better trade.
        SetConfig(options, "session.intra_op.allow_spinning"u8, "0"u8);

        var session = new OrtSessionHandle();
        fixed (byte* bytes = model)
        {
            OrtApi.Check(api.CreateSessionFromArray(OrtEnvironment.Env.Pointer, bytes, (nuint)model.Length, options.Pointer, &raw));
        }

        session.Adopt(raw);
        try
        {
            var inputs = Describe(session, input: true);
            var outputs = Describe(session, input: false);
            return new OnnxSession(session, inputs, outputs);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Runs the model: reads the first input from <paramref name="input"/>, writes the first output into <paramref name="output"/>.</summary>
    /// <remarks>Both values must have the shapes the model produces for this batch; ORT then writes in place.</remarks>
    public void Run(OrtValueHandle input, OrtValueHandle output)
    {
        var api = OrtApi.Api;
        var inputName = _inputName;
        var outputName = _outputName;
        var inputValue = input.Pointer;
        var outputValue = output.Pointer;
        OrtApi.Check(api.Run(_session.Pointer, IntPtr.Zero, &inputName, &inputValue, 1, &outputName, 1, &outputValue));
        if (outputValue != output.Pointer)
        {
            // ORT replaced our value instead of writing into it: the shapes disagreed. Never expected after validation.
            api.ReleaseValue(outputValue);
            throw new OnnxRuntimeException("ONNX Runtime allocated a new output instead of writing into the pre-created one; the output shape does not match the batch.");
        }
    }

    /// <summary>Runs <paramref name="rows"/> samples of [<paramref name="window"/>][<paramref name="features"/>] and returns [rows][3].
    /// Allocates: for load-time checks and tests, not the serving path.</summary>
    public float[] Run(ReadOnlySpan<float> input, int rows, int window, int features, int outputs = 3)
    {
        using var inTensor = new NativeTensor(rows, window, features);
        using var outTensor = new NativeTensor(rows, outputs);
        input.CopyTo(inTensor.Data);
        Run(inTensor.Value, outTensor.Value);
        return outTensor.Data.ToArray();
    }

    public void Dispose()
    {
        _session.Dispose();
        if (_inputName != IntPtr.Zero)
        {
            NativeMemory.Free((void*)_inputName);
        }

        if (_outputName != IntPtr.Zero)
        {
            NativeMemory.Free((void*)_outputName);
        }
    }

    private static void SetConfig(OrtSessionOptionsHandle options, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var k = stackalloc byte[key.Length + 1];
        var v = stackalloc byte[value.Length + 1];
        key.CopyTo(new Span<byte>(k, key.Length));
        value.CopyTo(new Span<byte>(v, value.Length));
        k[key.Length] = 0;
        v[value.Length] = 0;
        OrtApi.Check(OrtApi.Api.AddSessionConfigEntry(options.Pointer, k, v));
    }

    private static OnnxTensorInfo[] Describe(OrtSessionHandle session, bool input)
    {
        var api = OrtApi.Api;
        nuint count;
        OrtApi.Check(input ? api.SessionGetInputCount(session.Pointer, &count) : api.SessionGetOutputCount(session.Pointer, &count));
        IntPtr allocator;
        OrtApi.Check(api.GetAllocatorWithDefaultOptions(&allocator));
        var result = new OnnxTensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* name;
            OrtApi.Check(input
                ? api.SessionGetInputName(session.Pointer, i, allocator, &name)
                : api.SessionGetOutputName(session.Pointer, i, allocator, &name));
            string text;
            try
            {
                text = Marshal.PtrToStringUTF8((IntPtr)name) ?? string.Empty;
            }
            finally
            {
                OrtApi.Check(api.AllocatorFree(allocator, name));
            }

            IntPtr rawTypeInfo;
            OrtApi.Check(input
                ? api.SessionGetInputTypeInfo(session.Pointer, i, &rawTypeInfo)
                : api.SessionGetOutputTypeInfo(session.Pointer, i, &rawTypeInfo));
            using var typeInfo = new OrtTypeInfoHandle();
            typeInfo.Adopt(rawTypeInfo);

            // The tensor info is owned by the type info (no release of its own). NULL means not a tensor (a map or sequence).
            IntPtr tensorInfo;
            OrtApi.Check(api.CastTypeInfoToTensorInfo(typeInfo.Pointer, &tensorInfo));
            if (tensorInfo == IntPtr.Zero)
            {
                result[(int)i] = new OnnxTensorInfo(text, OnnxElementType.Undefined, []);
                continue;
            }

            int elementType;
            OrtApi.Check(api.GetTensorElementType(tensorInfo, &elementType));
            nuint rank;
            OrtApi.Check(api.GetDimensionsCount(tensorInfo, &rank));
            var shape = new long[(int)rank];
            fixed (long* dims = shape)
            {
                OrtApi.Check(api.GetDimensions(tensorInfo, dims, rank));
            }

            result[(int)i] = new OnnxTensorInfo(text, (OnnxElementType)elementType, shape);
        }

        return result;
    }

    private static IntPtr AllocUtf8(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return (IntPtr)buffer;
    }
}
