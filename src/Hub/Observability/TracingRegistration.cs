using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using SignalStream.Engine.Tracing;
using SignalStream.Hub.MetricsExporter;

namespace SignalStream.Hub.Observability;

/// <summary>Registers OpenTelemetry tracing when <c>Tracing:OtlpEndpoint</c> is set (docs/operations.md, "Tracing").</summary>
public static class TracingRegistration
{
    /// <summary>
    /// Candle traces (<see cref="SignalStreamTracing"/>), PostgreSQL commands (Npgsql's instrumentation) and HTTP requests
    /// other than scrapes and health probes, sampled by <c>Tracing:SampleRatio</c> (a parent's decision is kept) and
    /// exported over OTLP. Bad settings stop the node here, each named.
    /// </summary>
    public static IServiceCollection AddSignalStreamTracing(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(TracingOptions.SectionName).Get<TracingOptions>() ?? new TracingOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(TracingOptions.SectionName, typeof(TracingOptions), problems);
        }

        services.AddSingleton(options);
        if (!options.IsOn)
        {
            return services; // no tracer provider, so no listener: the spans are never made
        }

        var metricsPath = MetricsExporterOptions.PathIn(configuration);
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(options.ServiceName))
            .WithTracing(tracing => tracing
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(options.SampleRatio)))
                .AddSource(SignalStreamTracing.SourceName)
                .AddNpgsql()
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.Filter = http =>
                    !http.Request.Path.StartsWithSegments(metricsPath) && !http.Request.Path.StartsWithSegments("/health"))
                .AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = options.ExporterEndpoint;
                    otlp.Protocol = options.Protocol;
                }));
        return services;
    }
}
