namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>Serves the Prometheus text exposition.</summary>
internal static class MetricsEndpoint
{
    /// <summary>Text exposition format 0.0.4, as Prometheus 2.x negotiates it.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static async Task WriteAsync(HttpContext context)
    {
        var collector = context.RequestServices.GetRequiredService<PrometheusCollector>();
        using var writer = new PrometheusTextWriter();
        collector.Collect(writer);
        var response = context.Response;
        response.ContentType = ContentType;
        response.ContentLength = writer.WrittenMemory.Length;
        response.Headers.CacheControl = "no-store";
        await response.Body.WriteAsync(writer.WrittenMemory, context.RequestAborted);
    }
}
