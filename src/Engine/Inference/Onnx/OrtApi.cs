using System.Reflection;
using System.Runtime.InteropServices;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>
/// The slice of ONNX Runtime's C API (<c>onnxruntime_c_api.h</c>, <c>struct OrtApi</c>) the engine uses, as
/// unmanaged function pointers read once from the table <c>OrtGetApiBase()->GetApi(version)</c> returns.
/// </summary>
/// <remarks>
/// The table only grows at its end, so the 0-based indices below hold for every API version from the one that
/// introduced each function. They were checked against the 1.30 header (DESIGN.md section 3).
/// Every function that returns an <c>OrtStatus*</c> returns NULL on success; <see cref="Check"/> turns anything
/// else into an <see cref="OnnxRuntimeException"/> with ORT's own message.
/// </remarks>
internal static unsafe class OrtApi
{
    /// <summary>The API version requested from the library; 1.30 serves 30 (and returns NULL for 31).</summary>
    public const uint ApiVersion = 30;

    /// <summary>The file name the build copies next to the assemblies (see build/onnxruntime.targets).</summary>
    public const string LibraryFileName = "libonnxruntime.so.1";

    private static readonly Lazy<Table> s_table = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The function table; loads the native library on first use.</summary>
    public static Table Api => s_table.Value;

    /// <summary>The version string ONNX Runtime reports, for example <c>1.30.0</c>.</summary>
    public static string Version => s_table.Value.Version;

    public static void Check(IntPtr status)
    {
        if (status != IntPtr.Zero)
        {
            ThrowFromStatus(status);
        }
    }

    private static void ThrowFromStatus(IntPtr status)
    {
        var api = Api;
        var code = (OrtErrorCode)api.GetErrorCode(status);
        var message = Marshal.PtrToStringUTF8(api.GetErrorMessage(status)) ?? "(no message)";
        api.ReleaseStatus(status);
        throw new OnnxRuntimeException(code, message);
    }

    private static Table Load()
    {
        var handle = LoadLibrary();
        var getApiBase = (delegate* unmanaged[Cdecl]<IntPtr>)NativeLibrary.GetExport(handle, "OrtGetApiBase");
        var apiBase = (IntPtr*)getApiBase();
        var getApi = (delegate* unmanaged[Cdecl]<uint, IntPtr*>)apiBase[0];
        var getVersion = (delegate* unmanaged[Cdecl]<IntPtr>)apiBase[1];
        var version = Marshal.PtrToStringUTF8(getVersion()) ?? "unknown";
        var table = getApi(ApiVersion);
        if (table == null)
        {
            throw new OnnxRuntimeException(
                $"The ONNX Runtime library loaded here is version {version} and does not serve C API version {ApiVersion}; " +
                "SignalStream needs ONNX Runtime 1.30 or later (the build fetches 1.30.0, see build/onnxruntime.targets).");
        }

        return new Table(table, version);
    }

    private static IntPtr LoadLibrary()
    {
        // Next to our assemblies first (where the build copies it), then the loader's default search path.
        var candidates = new List<string>(3);
        foreach (var folder in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(OrtApi).Assembly.Location) })
        {
            if (!string.IsNullOrEmpty(folder))
            {
                var path = Path.Combine(folder, LibraryFileName);
                if (!candidates.Contains(path))
                {
                    candidates.Add(path);
                }
            }
        }

        foreach (var path in candidates)
        {
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
            {
                return handle;
            }
        }

        if (NativeLibrary.TryLoad(LibraryFileName, typeof(OrtApi).Assembly, DllImportSearchPath.SafeDirectories, out var fallback))
        {
            return fallback;
        }

        throw new DllNotFoundException(
            $"ONNX Runtime ({LibraryFileName}) was not found in {string.Join(" or ", candidates)} nor on the library path. " +
            "Build the solution (the build fetches it from npm onnxruntime-node@1.30.0 into ~/.cache/signalstream and copies it " +
            "next to the assemblies), or set LD_LIBRARY_PATH to a folder holding it.");
    }

    /// <summary>The function pointers, at their OrtApi table indices.</summary>
    internal sealed class Table
    {
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int> GetErrorCode;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr> GetErrorMessage;
        public readonly delegate* unmanaged[Cdecl]<int, byte*, IntPtr*, IntPtr> CreateEnv;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr> CreateSessionFromArray;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr> Run;
        public readonly delegate* unmanaged[Cdecl]<IntPtr*, IntPtr> CreateSessionOptions;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetSessionExecutionMode;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetSessionGraphOptimizationLevel;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetIntraOpNumThreads;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetInterOpNumThreads;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> SessionGetInputCount;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> SessionGetOutputCount;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr> SessionGetInputTypeInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOutputTypeInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetInputName;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetOutputName;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr> CreateTensorWithDataAsOrtValue;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void**, IntPtr> GetTensorMutableData;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr*, IntPtr> CastTypeInfoToTensorInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr> GetTensorElementType;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> GetDimensionsCount;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, IntPtr> GetDimensions;
        public readonly delegate* unmanaged[Cdecl]<int, int, IntPtr*, IntPtr> CreateCpuMemoryInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr> AllocatorFree;
        public readonly delegate* unmanaged[Cdecl]<IntPtr*, IntPtr> GetAllocatorWithDefaultOptions;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseEnv;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseStatus;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseMemoryInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseSession;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseValue;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseTypeInfo;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseSessionOptions;
        public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr> AddSessionConfigEntry;

        public Table(IntPtr* t, string version)
        {
            Version = version;
            GetErrorCode = (delegate* unmanaged[Cdecl]<IntPtr, int>)t[1];
            GetErrorMessage = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)t[2];
            CreateEnv = (delegate* unmanaged[Cdecl]<int, byte*, IntPtr*, IntPtr>)t[3];
            CreateSessionFromArray = (delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr>)t[8];
            Run = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)t[9];
            CreateSessionOptions = (delegate* unmanaged[Cdecl]<IntPtr*, IntPtr>)t[10];
            SetSessionExecutionMode = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)t[13];
            SetSessionGraphOptimizationLevel = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)t[23];
            SetIntraOpNumThreads = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)t[24];
            SetInterOpNumThreads = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)t[25];
            SessionGetInputCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)t[30];
            SessionGetOutputCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)t[31];
            SessionGetInputTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr>)t[33];
            SessionGetOutputTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr>)t[34];
            SessionGetInputName = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr>)t[36];
            SessionGetOutputName = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr>)t[37];
            CreateTensorWithDataAsOrtValue = (delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)t[49];
            GetTensorMutableData = (delegate* unmanaged[Cdecl]<IntPtr, void**, IntPtr>)t[51];
            CastTypeInfoToTensorInfo = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr*, IntPtr>)t[55];
            GetTensorElementType = (delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr>)t[60];
            GetDimensionsCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)t[61];
            GetDimensions = (delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, IntPtr>)t[62];
            CreateCpuMemoryInfo = (delegate* unmanaged[Cdecl]<int, int, IntPtr*, IntPtr>)t[69];
            AllocatorFree = (delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr>)t[76];
            GetAllocatorWithDefaultOptions = (delegate* unmanaged[Cdecl]<IntPtr*, IntPtr>)t[78];
            ReleaseEnv = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[92];
            ReleaseStatus = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[93];
            ReleaseMemoryInfo = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[94];
            ReleaseSession = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[95];
            ReleaseValue = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[96];
            ReleaseTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[98];
            ReleaseSessionOptions = (delegate* unmanaged[Cdecl]<IntPtr, void>)t[100];
            AddSessionConfigEntry = (delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr>)t[130];
        }

        public string Version { get; }
    }
}
