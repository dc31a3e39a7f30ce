using Microsoft.Extensions.Diagnostics.HealthChecks;
using SignalStream.Engine;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Notifications;
using SignalStream.Hub.Observability;
using SignalStream.Hub.Webhooks;
using SignalStream.Ingest;

namespace SignalStream.Hub.Hosting;

/// <summary>The composition root: builds the web application for the configured roles. Tests start it on Kestrel too.</summary>
public static partial class SignalStreamHost
{
    public const string DefaultUrl = "http://localhost:5080";

    /// <summary>Builds the application from command-line arguments (plain .NET configuration switches).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        configure?.Invoke(builder);
        var configuration = builder.Configuration;
        var management = ManagementEndpoint.Resolve(configuration, configuration["urls"] ?? DefaultUrl);
        if (management.IsSeparate)
        {
            builder.WebHost.UseUrls($"{configuration["urls"] ?? DefaultUrl};{management.Urls}");
        }

        InferenceRegistration.ResolveBundledModels(configuration, builder.Environment.ContentRootPath);
        var roles = NodeRoles.Parse(configuration["Node:Roles"]);
        builder.Services.AddSingleton(roles);
        builder.Services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy(), tags: ["live"]);

        builder.Services.AddSignalStreamObservability(configuration);
        builder.Services.AddSignalStreamTracing(configuration);
        builder.Services.AddSignalStreamEvents(configuration);

        // Before the engine: each sink's progress is loaded before the first signal can be published.
        builder.Services.AddSignalStreamNotifications(configuration, roles);
        if (roles.RunsEngine)
        {
            // Before ingest and the engine: hosted services start in registration order, and the signal stage must be
            // restored from the store before the first candle reaches it.
            builder.Services.AddHostedService(sp => new EngineStateLoader(
                sp.GetRequiredService<IEventStore>(),
                sp.GetService<ISignalStateRestore>(),
                sp.GetRequiredService<CandleWatermarks>(),
                IngestOptions.Bind(configuration).ResolvedStreams(),
                sp.GetRequiredService<ILogger<EngineStateLoader>>()));

            // TradingView alerts enter the engine; their start-up loader runs here: after the signals are restored, before ingest.
            builder.Services.AddSignalStreamWebhooks(configuration);
            builder.Services.AddSignalStreamIngest(configuration);
            builder.Services.AddSingleton<ICandleUpdateReader, CandleChannelReader>();
            builder.Services.AddSingleton<IStreamResumePoints, StoredResumePoints>();
            builder.Services.AddSignalStreamEngine(configuration);
        }

        builder.Services.AddSignalStreamHub(configuration, roles);

        var app = builder.Build();
        management.UseGate(app);
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.MapHealthChecks("/health/live", new() { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") || c.Tags.Contains("live") });
        app.MapSignalStreamObservability();
        app.MapSignalStreamHub(roles);
        app.MapSignalStreamNotifications(roles);
        if (roles.RunsEngine)
        {
            app.MapSignalStreamWebhooks();
        }

        Log.Starting(app.Logger, roles.ToString());
        if (management.IsSeparate)
        {
            Log.ManagementSeparate(app.Logger, management.Urls);
        }

        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5900, Level = LogLevel.Information, Message = "SignalStream node starting with roles {Roles}")]
        public static partial void Starting(ILogger logger, string roles);

        [LoggerMessage(EventId = 5901, Level = LogLevel.Information, Message = "Metrics and health are served on {ManagementUrls} only (Management:Urls)")]
        public static partial void ManagementSeparate(ILogger logger, string managementUrls);
    }
}
