using System.Runtime.InteropServices;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>
/// A float32 tensor over memory the caller owns and keeps pinned (native memory here) for the value's lifetime.
/// ORT reads inputs from and writes outputs into that memory directly, so a Run copies nothing and allocates nothing.
/// </summary>
internal sealed unsafe class OrtTensor : IDisposable
{
    private readonly OrtValueHandle _value = new();

    /// <param name="data">Start of the tensor's data; must outlive this tensor.</param>
    /// <param name="shape">Every dimension concrete (no -1).</param>
    public OrtTensor(float* data, ReadOnlySpan<long> shape)
    {
        long elements = 1;
        foreach (var d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            elements *= d;
        }

        IntPtr raw;
        fixed (long* dims = shape)
        {
            // The length argument is in BYTES, not elements.
            OrtApi.Check(OrtApi.Api.CreateTensorWithDataAsOrtValue(
                OrtEnvironment.CpuMemory.Pointer, data, (nuint)(elements * sizeof(float)), dims, (nuint)shape.Length,
                (int)OnnxElementType.Float32, &raw));
        }

        _value.Adopt(raw);
    }

    public OrtValueHandle Value => _value;

    public void Dispose() => _value.Dispose();
}

/// <summary>A float32 tensor that owns its (64-byte aligned, native) memory: for one-off runs and tests.</summary>
internal sealed unsafe class NativeTensor : IDisposable
{
    private readonly float* _data;
    private readonly int _length;
    private readonly OrtTensor _tensor;

    public NativeTensor(params long[] shape)
    {
        long elements = 1;
        foreach (var d in shape)
        {
            elements *= d;
        }

        _length = checked((int)elements);
        _data = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(_length, 1) * sizeof(float), 64);
        Data.Clear();
        _tensor = new OrtTensor(_data, shape);
    }

    public Span<float> Data => new(_data, _length);

    public OrtValueHandle Value => _tensor.Value;

    public void Dispose()
    {
        _tensor.Dispose();
        NativeMemory.AlignedFree(_data);
    }
}
