using OpenTelemetry.Exporter;

namespace SignalStream.Hub.Observability;

/// <summary>
/// Settings under <c>Tracing</c>: OpenTelemetry traces of a candle's path and of HTTP requests, exported over OTLP.
/// Off unless <see cref="OtlpEndpoint"/> is set; off, nothing listens and no span is made.
/// </summary>
public sealed class TracingOptions
{
    public const string SectionName = "Tracing";

    /// <summary>
    /// The collector's OTLP endpoint, e.g. <c>http://otel-collector:4317</c> (gRPC) or <c>http://otel-collector:4318</c>
    /// (HTTP; <c>/v1/traces</c> is added when the URL has no path). Empty: tracing is off.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (default) or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Fraction of candle traces and requests kept, from 0 to 1 (default 1: every one).</summary>
    public double SampleRatio { get; set; } = 1.0;

    /// <summary>The <c>service.name</c> the spans carry.</summary>
    public string ServiceName { get; set; } = "signalstream";

    /// <summary>True when traces are exported.</summary>
    public bool IsOn => !string.IsNullOrWhiteSpace(OtlpEndpoint);

    internal OtlpExportProtocol Protocol => OtlpProtocol.Trim().ToLowerInvariant() switch
    {
        "http/protobuf" or "http" => OtlpExportProtocol.HttpProtobuf,
        _ => OtlpExportProtocol.Grpc,
    };

    /// <summary>The exporter's URL: for HTTP, the traces path when none was given.</summary>
    internal Uri ExporterEndpoint
    {
        get
        {
            var uri = new Uri(OtlpEndpoint!.Trim());
            return Protocol == OtlpExportProtocol.HttpProtobuf && uri.AbsolutePath is "/" or ""
                ? new Uri(uri, "/v1/traces")
                : uri;
        }
    }

    internal IEnumerable<string> Validate()
    {
        if (IsOn && (!Uri.TryCreate(OtlpEndpoint!.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            yield return $"Tracing:OtlpEndpoint is '{OtlpEndpoint}'; set an absolute http(s) URL such as 'http://otel-collector:4317', or leave it empty to turn tracing off.";
        }

        if (OtlpProtocol.Trim().ToLowerInvariant() is not ("grpc" or "http/protobuf" or "http"))
        {
            yield return $"Tracing:OtlpProtocol is '{OtlpProtocol}'; use 'grpc' (default) or 'http/protobuf'.";
        }

        if (double.IsNaN(SampleRatio) || SampleRatio is < 0 or > 1)
        {
            yield return $"Tracing:SampleRatio is {SampleRatio}; use a fraction from 0 to 1 (default 1: every trace).";
        }

        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            yield return "Tracing:ServiceName is empty; name the service (default 'signalstream').";
        }
    }
}
