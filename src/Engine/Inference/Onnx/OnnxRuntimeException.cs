namespace SignalStream.Engine.Inference.Onnx;

/// <summary>An error reported by ONNX Runtime, carrying its error code and message unchanged.</summary>
public sealed class OnnxRuntimeException : Exception
{
    public OnnxRuntimeException()
    {
    }

    public OnnxRuntimeException(string message)
        : base(message)
    {
    }

    public OnnxRuntimeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal OnnxRuntimeException(OrtErrorCode errorCode, string message)
        : base($"ONNX Runtime {errorCode}: {message}")
    {
        ErrorCode = errorCode;
        RuntimeMessage = message;
    }

    /// <summary>ORT's error code (<c>OrtErrorCode</c> in the C API).</summary>
    public OrtErrorCode ErrorCode { get; }

    /// <summary>The message exactly as ONNX Runtime wrote it.</summary>
    public string RuntimeMessage { get; } = string.Empty;
}

/// <summary>ONNX Runtime's <c>OrtErrorCode</c>.</summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    ExecutionProviderFailure = 11,
    ModelLoadCanceled = 12,
    ModelRequiresCompilation = 13,
    NotFound = 14,
}
