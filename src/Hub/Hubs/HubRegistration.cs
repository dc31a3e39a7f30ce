using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine;
using SignalStream.EventStore;
using SignalStream.Hosting;
using SignalStream.Hub.Api;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Redis;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Transport;

namespace SignalStream.Hub.Hubs;

/// <summary>Registers and maps the SignalR hub, fan-out, auth, limits and the REST API.</summary>
public static class HubRegistration
{
    private const string CorsPolicy = "SignalStreamClients";

    public static IServiceCollection AddSignalStreamHub(this IServiceCollection services, IConfiguration configuration, NodeRoles roles)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddOptions<SignalHubOptions>().Bind(configuration.GetSection(SignalHubOptions.SectionName)).ValidateOnStart(static o => o.Validate());
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.SectionName)).ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton<HubMetrics>();

        var redis = configuration.GetConnectionString("Redis");
        var hasBus = !string.IsNullOrWhiteSpace(redis);
        if (redis is not null && hasBus)
        {
            services.AddRedisSignalBus(configuration, redis);
        }
        else if (!roles.RunsEngine)
        {
            services.AddOptions<SignalHubOptions>().ValidateOnStart(static _ =>
                ["Node:Roles is 'hub' but ConnectionStrings:Redis is empty: a hub node receives signals from the engine over Redis. Set ConnectionStrings:Redis, or use Node:Roles=all."]);
        }

        if (roles.ServesClients)
        {
            AddClientServing(services, configuration, roles);
        }

        if (roles.RunsEngine)
        {
            // The engine's publisher; the composition root puts it after the event writer (EngineOutputs). What it
            // delivers to is decided here, from the roles and the configuration, never looked up at run time.
            services.AddSingleton(sp => new FanOutEngineOutput(
                roles.ServesClients ? sp.GetRequiredService<SymbolFeeds>() : null,
                hasBus ? sp.GetRequiredService<ISignalBus>() : null,
                sp.GetRequiredService<HubMetrics>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<Notifications.NotificationService>()));
        }

        return services;
    }

    private static void AddClientServing(IServiceCollection services, IConfiguration configuration, NodeRoles roles)
    {
        services.AddSingleton(new ServedMarkets(configuration));
        services.AddOptions<SignalHistoryOptions>().Bind(configuration.GetSection(SignalHistoryOptions.SectionName)).ValidateOnStart(static o => o.Validate());
        services.AddSingleton(sp => new SignalHistoryReader(
            sp.GetRequiredService<ISignalHistory>(),
            sp.GetRequiredService<IOptions<SignalHistoryOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetRequiredService<ILogger<SignalHistoryReader>>()));
        services.AddSignalStreamApi(configuration);
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<SignalHubOptions>, HubMetrics>((o, hub, metrics) =>
        {
            o.AddPolicy(HubRequestRateLimitPolicy.NegotiateName, HubRequestRateLimitPolicy.Negotiate(hub.Value, metrics));
            o.AddPolicy(HubRequestRateLimitPolicy.ConnectName, HubRequestRateLimitPolicy.Connect(hub.Value, metrics));
        });
        services.AddSingleton(sp => new SymbolFeeds(
            sp.GetRequiredService<IOptions<SignalHubOptions>>().Value,
            sp.GetRequiredService<SignalHistoryReader>() is { HasStore: true } history ? history : null,
            sp.GetRequiredService<HubMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("SignalStream.Hub.FanOut"),
            connection => sp.GetRequiredService<ConnectionRegistry>().DisconnectSlowConsumer(connection),
            roles.RunsEngine ? null : sp.GetRequiredService<ISignalBus>()));
        services.AddSingleton<ConnectionAdmission>();
        services.AddSingleton<ConnectionRegistry>();
        // Stopped in reverse order: connections close (and drain) before the feeds stop.
        services.AddHostedService(sp => sp.GetRequiredService<SymbolFeeds>());
        services.AddHostedService(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddHealthChecks().AddCheck<AcceptingHealthCheck>("hub", tags: ["ready"]);

        var hubOptions = configuration.GetSection(SignalHubOptions.SectionName).Get<SignalHubOptions>() ?? new SignalHubOptions();
        services.AddSignalR(o =>
            {
                o.MaximumReceiveMessageSize = hubOptions.MaxMessageBytes;
                // The node's own deadline (ConnectionAdmission) drops a late handshake with its request; SignalR's is the
                // backstop for long polling, which has no lasting request to drop.
                o.HandshakeTimeout = hubOptions.HandshakeTimeout * 2;
                o.MaximumParallelInvocationsPerClient = 1;
                // Unexpected exceptions never reach clients as such (HubGuardFilter replaces them); what detailed errors
                // add is the reason for protocol faults, such as "The maximum message size of 32768B was exceeded".
                o.EnableDetailedErrors = true;
                o.AddFilter<HubGuardFilter>();
            })
            .AddJsonProtocol(o => o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJsonContext.Default));
        // The protocols of Hub:Protocols, each wrapped: calls SignalR refuses itself count against the rate limit, and
        // replies quote no unbounded client input (GuardedHubProtocol). MessagePack is SignalR's protocol with its default
        // options, the instance whose serializer options the fan-out's own MessagePack frames use too.
        services.RemoveAll<IHubProtocol>();
        foreach (var protocol in hubOptions.EnabledProtocols)
        {
            services.AddSingleton<IHubProtocol>(sp => new GuardedHubProtocol(
                protocol == WireProtocol.MessagePack
                    ? WireProtocols.MessagePackProtocol
                    : new JsonHubProtocol(sp.GetRequiredService<IOptions<JsonHubProtocolOptions>>()),
                sp.GetRequiredService<ConnectionRegistry>()));
        }

        services.AddSingleton<HubLifetimeManager<SignalHub>, TrackingHubLifetimeManager>();

        var auth = configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
        services.AddAuthorization();
        if (auth.IsJwt)
        {
            services.AddSignalStreamJwt();
        }

        if (hubOptions.Cors.Origins.Count > 0)
        {
            services.AddCors(o => o.AddPolicy(CorsPolicy, p => p
                .WithOrigins([.. hubOptions.Cors.Origins])
                .AllowAnyHeader()
                .WithMethods("GET", "POST")
                .AllowCredentials()));
        }
    }

    public static WebApplication MapSignalStreamHub(this WebApplication app, NodeRoles roles)
    {
        if (!roles.ServesClients)
        {
            return app;
        }

        var options = app.Services.GetRequiredService<IOptions<SignalHubOptions>>().Value;
        var jwt = app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.IsJwt;
        if (options.Cors.Origins.Count > 0)
        {
            app.UseCors(CorsPolicy);
        }

        if (jwt)
        {
            app.UseAuthentication();
        }

        app.UseSignalStreamApiRateLimiting();
        if (jwt)
        {
            app.UseAuthorization();
        }

        app.UseConnectionAdmission(HubNames.Path, app.Services.GetRequiredService<ConnectionRegistry>());
        if (options.DirectSocketSends)
        {
            app.UseDirectSocketSends(HubNames.Path, app.Services.GetRequiredService<TimeProvider>(), options.OutboundQueueBytes);
        }

        var hub = app.MapHub<SignalHub>(HubNames.Path, o =>
        {
            // Stated rather than left to SignalR's defaults: each is part of the per-connection bounds in docs/hub.md.
            o.TransportMaxBufferSize = ConnectionState.PipeTransportBufferBytes;
            o.ApplicationMaxBufferSize = Math.Max(64 * 1024, options.MaxMessageBytes);
        });
        // Negotiate, and connect requests: the limiter runs before admission (UseSignalStreamApiRateLimiting above).
        hub.Add(HubRequestRateLimitPolicy.ApplyTo);

        if (jwt)
        {
            hub.RequireAuthorization();
        }

        app.MapSignalStreamApi(jwt, roles.RunsEngine);
        return app;
    }

    /// <summary>Unhealthy once shutdown began, so load balancers stop sending new clients here first.</summary>
    private sealed class AcceptingHealthCheck(ConnectionRegistry registry) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(registry.IsStopping
                ? HealthCheckResult.Unhealthy("Shutting down: not accepting connections.")
                : HealthCheckResult.Healthy($"{registry.Count} connections."));
    }
}
