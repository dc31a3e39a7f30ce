using Microsoft.Extensions.Diagnostics.HealthChecks;
using SignalStream.Engine;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Hub.FanOut;
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
        builder.Services.PostConfigure<HostOptions>(o => o.ShutdownTimeout = ShutdownBudget.Of(configuration, o.ShutdownTimeout));
        var management = ManagementEndpoint.Resolve(configuration, configuration["urls"] ?? DefaultUrl);
        var proxies = TrustedProxies.Resolve(configuration);
        if (management.IsSeparate)
        {
            builder.WebHost.UseUrls($"{configuration["urls"] ?? DefaultUrl};{management.Urls}");
        }

        InferenceRegistration.ResolveBundledModels(configuration, builder.Environment.ContentRootPath);
        var roles = NodeRoles.Parse(configuration["Node:Roles"]);
        builder.Services.AddSingleton(roles);
        // The node's parts in their start order, which is this list's (NodeStages, NodeStartup): each stage starts once
        // the one before it has, and they stop in reverse.
        var node = new NodeStages(builder.Services)
            .Add("observability", s =>
            {
                s.AddHealthChecks().AddCheck("process", () => HealthCheckResult.Healthy(), tags: ["live"]);
                s.AddSignalStreamObservability(configuration);
                s.AddSignalStreamTracing(configuration);
            })

            // The store opens first (the writer, then its projector): everything after reads or writes it.
            .Add("event store", s => s.AddSignalStreamEvents(configuration))

            // Each sink's progress is loaded before the first signal can be published.
            .Add("notifications", s => s.AddSignalStreamNotifications(configuration, roles));
        if (roles.RunsEngine)
        {
            node
                // The signal stage restored and the candle watermarks loaded before any alert or candle reaches the engine.
                .Add("engine state", s => s.AddHostedService(sp => new EngineStateLoader(
                    sp.GetRequiredService<IEventStore>(),
                    sp.GetRequiredService<ISignalStateRestore>(),
                    sp.GetRequiredService<CandleWatermarks>(),
                    IngestOptions.Bind(configuration).ResolvedStreams(),
                    sp.GetRequiredService<ILogger<EngineStateLoader>>())))

                // TradingView alerts enter the engine: their standing votes are restored after the signals, before ingest.
                .Add("alerts", s => s.AddSignalStreamWebhooks(configuration))
                // The models load before the pipeline reads its first candle (AddSignalStreamEngine registers them in that
                // order). The engine's way out, in its order: the event writer makes every result durable, then the
                // fan-out publishes it (signals and outcomes after their commit: a seq a client has seen is durable).
                .Add("engine", s =>
                {
                    s.AddSingleton<ICandleUpdateReader, CandleChannelReader>();
                    s.AddSignalStreamEngine(configuration, sp => new EngineOutputs(
                        store: sp.GetRequiredService<IDurableEngineOutput>(),
                        publishers: [sp.GetRequiredService<FanOutEngineOutput>()],
                        sp.GetRequiredService<TimeProvider>()));
                })

                // Ingest after the engine, so it stops first: its channel is completed before the engine drains it to the
                // end, and no candle accepted during the engine's drain is left in memory at exit. (It starts producing
                // only once the host has started, so starting after the engine delays nothing.)
                .Add("ingest", s =>
                {
                    s.AddSignalStreamIngest(configuration);
                    s.AddSingleton<IStreamResumePoints, StoredResumePoints>();
                });
        }

        node.Add("hub", s => s.AddSignalStreamHub(configuration, roles));
        node.Register();

        var app = builder.Build();
        if (proxies is not null)
        {
            // First: every limit after it counts the client's address, not the proxy's.
            app.UseForwardedHeaders(proxies);
        }

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

        Log.Starting(app.Logger, roles);
        if (management.IsSeparate)
        {
            Log.ManagementSeparate(app.Logger, management.Urls);
        }

        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5900, Level = LogLevel.Information, Message = "SignalStream node starting with roles {Roles}")]
        public static partial void Starting(ILogger logger, NodeRoles roles);

        [LoggerMessage(EventId = 5901, Level = LogLevel.Information, Message = "Metrics and health are served on {ManagementUrls} only (Management:Urls)")]
        public static partial void ManagementSeparate(ILogger logger, string managementUrls);
    }
}
