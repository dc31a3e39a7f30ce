using System.Runtime.InteropServices;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>Base for ORT objects: the handle is released exactly once with the matching <c>Release*</c> function.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The raw pointer for a call; the owner keeps this object alive across the call.</summary>
    public IntPtr Pointer => handle;

    internal void Adopt(IntPtr pointer) => SetHandle(pointer);
}

internal sealed unsafe class OrtEnvHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseEnv(handle);
        return true;
    }
}

internal sealed unsafe class OrtSessionHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseSession(handle);
        return true;
    }
}

internal sealed unsafe class OrtSessionOptionsHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseSessionOptions(handle);
        return true;
    }
}

internal sealed unsafe class OrtValueHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseValue(handle);
        return true;
    }
}

internal sealed unsafe class OrtMemoryInfoHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseMemoryInfo(handle);
        return true;
    }
}

internal sealed unsafe class OrtTypeInfoHandle : OrtHandle
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Api.ReleaseTypeInfo(handle);
        return true;
    }
}

/// <summary>The process-wide ORT environment and CPU memory description, created on first use and kept for the process.</summary>
internal static unsafe class OrtEnvironment
{
    private static readonly Lazy<(OrtEnvHandle Env, OrtMemoryInfoHandle CpuMemory)> s_instance = new(Create);

    public static OrtEnvHandle Env => s_instance.Value.Env;

    public static OrtMemoryInfoHandle CpuMemory => s_instance.Value.CpuMemory;

    private static (OrtEnvHandle, OrtMemoryInfoHandle) Create()
    {
        var api = OrtApi.Api;
        var env = new OrtEnvHandle();
        IntPtr raw;
        // ORT_LOGGING_LEVEL_ERROR (3): ORT's own warnings go to stderr outside our logging, so keep it quiet.
        var logId = "signalstream"u8;
        var terminated = stackalloc byte[logId.Length + 1];
        logId.CopyTo(new Span<byte>(terminated, logId.Length));
        terminated[logId.Length] = 0;
        OrtApi.Check(api.CreateEnv(3, terminated, &raw));

        env.Adopt(raw);
        var memory = new OrtMemoryInfoHandle();
        // OrtArenaAllocator (1), OrtMemTypeDefault (0): plain CPU memory owned by us.
        OrtApi.Check(api.CreateCpuMemoryInfo(1, 0, &raw));
        memory.Adopt(raw);
        return (env, memory);
    }
}
