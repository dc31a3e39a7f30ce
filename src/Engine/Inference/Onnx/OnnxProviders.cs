using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace SignalStream.Engine.Inference.Onnx;

/// <summary>Where ONNX Runtime runs the models (configuration key <c>Inference:ExecutionProvider</c>).</summary>
internal enum OnnxProvider
{
    Cpu,
    Cuda,
    DirectML,
}

/// <summary>
/// The execution providers SignalStream can ask for, whether the ONNX Runtime build in use has them, and how a
/// session gets them. Which providers exist is decided by the native package the Engine references
/// (<c>OnnxRuntimePackage</c> in SignalStream.Engine.csproj), not by configuration: this class turns a mismatch into a
/// message that names the package to reference.
/// </summary>
internal static class OnnxProviders
{
    /// <summary>The configuration names, in the order the docs list them.</summary>
    public static readonly string[] Names = ["cpu", "cuda", "directml"];

    private static readonly Lazy<(string[]? Available, string? LoadError)> s_runtime = new(Load);

    public static bool TryParse(string? name, out OnnxProvider provider)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "cpu":
                provider = OnnxProvider.Cpu;
                return true;
            case "cuda":
                provider = OnnxProvider.Cuda;
                return true;
            case "directml" or "dml":
                provider = OnnxProvider.DirectML;
                return true;
            default:
                provider = OnnxProvider.Cpu;
                return false;
        }
    }

    /// <summary>ORT's own provider name, as <c>OrtEnv.GetAvailableProviders</c> lists it.</summary>
    public static string RuntimeName(OnnxProvider provider) => provider switch
    {
        OnnxProvider.Cuda => "CUDAExecutionProvider",
        OnnxProvider.DirectML => "DmlExecutionProvider",
        _ => "CPUExecutionProvider",
    };

    /// <summary>The version of the native library loaded, for the log; null when it cannot be loaded.</summary>
    public static string? RuntimeVersion => s_runtime.Value.LoadError is null ? OrtEnv.Instance().GetVersionString() : null;

    /// <summary>
    /// Null when <paramref name="provider"/> can serve in this process; otherwise a message that says what to install
    /// or reference. Loads the native library on first use.
    /// </summary>
    public static string? Unavailable(OnnxProvider provider, int deviceId = 0)
    {
        var (available, loadError) = s_runtime.Value;
        if (loadError is not null)
        {
            return loadError;
        }

        if (Array.IndexOf(available!, RuntimeName(provider)) >= 0)
        {
            return provider == OnnxProvider.Cpu ? null : CannotStart(provider, deviceId);
        }

        var present = string.Join(", ", available!);
        return provider switch
        {
            OnnxProvider.Cuda =>
                $"Inference:ExecutionProvider is 'cuda' but the ONNX Runtime build in use has only {present}. Build with the GPU package: " +
                "dotnet publish src/Hub -c Release -r linux-x64 -p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.Gpu.Linux " +
                "(or Microsoft.ML.OnnxRuntime.Gpu for Linux and Windows), with CUDA 12 and cuDNN 9 installed on the machine; see docs/inference.md.",
            OnnxProvider.DirectML => RuntimeInformation.IsOSPlatform(OSPlatform.Windows)
                ? $"Inference:ExecutionProvider is 'directml' but the ONNX Runtime build in use has only {present}. Build with the DirectML package: " +
                  "-p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.DirectML (add its PackageVersion to Directory.Packages.props); see docs/inference.md."
                : $"Inference:ExecutionProvider is 'directml', which runs on Windows only (this is {RuntimeInformation.OSDescription}); use 'cpu', or 'cuda' with the GPU package.",
            _ => $"ONNX Runtime reports no CPU execution provider (it has {present}); reference Microsoft.ML.OnnxRuntime.",
        };
    }

    /// <summary>Adds <paramref name="provider"/> to a session's options. CPU is ORT's default and needs nothing.</summary>
    /// <exception cref="OnnxRuntimeException">The provider is compiled in but cannot start (for CUDA: a driver or library missing).</exception>
    public static void Append(SessionOptions options, OnnxProvider provider, int deviceId)
    {
        switch (provider)
        {
            case OnnxProvider.Cuda:
                options.AppendExecutionProvider_CUDA(deviceId);
                break;
            case OnnxProvider.DirectML:
                // DirectML requires sequential execution and no memory pattern (ORT's DirectML documentation).
                options.EnableMemoryPattern = false;
                options.AppendExecutionProvider_DML(deviceId);
                break;
        }
    }

    /// <summary>A GPU provider compiled into the build still needs its libraries (for CUDA: the CUDA 13 runtime and
    /// cuDNN 9); adding it to throwaway options loads them, so a machine without them fails at start, not per model.</summary>
    private static string? CannotStart(OnnxProvider provider, int deviceId)
    {
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            Append(options, provider, deviceId);
            return null;
        }
        catch (OnnxRuntimeException ex)
        {
            return $"Inference:ExecutionProvider is '{provider.ToString().ToLowerInvariant()}' and this ONNX Runtime build has it, but it cannot start " +
                   $"here: {ex.Message}. " + (provider == OnnxProvider.Cuda
                       ? "It needs an NVIDIA driver, the CUDA 13 runtime libraries (libcudart, libcublas, libcublasLt) and cuDNN 9 on the library path; see docs/inference.md."
                       : "See docs/inference.md.");
        }
    }

    private static (string[]?, string?) Load()
    {
        try
        {
            var env = OrtEnv.Instance();

            // ORT logs to stderr outside our logging; warnings there (for example about node placement) are noise.
            env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            return (env.GetAvailableProviders(), null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            var reason = ex is TypeInitializationException { InnerException: { } inner } ? inner.Message : ex.Message;
            return (null,
                $"ONNX Runtime's native library cannot be loaded ({reason}). The Microsoft.ML.OnnxRuntime package ships it for " +
                $"linux-x64, linux-arm64, win-x64, win-arm64 and osx-arm64; this process runs on {RuntimeInformation.RuntimeIdentifier}. " +
                "Build or publish for one of those (dotnet publish src/Hub -c Release -r linux-x64); see docs/inference.md.");
        }
    }
}
