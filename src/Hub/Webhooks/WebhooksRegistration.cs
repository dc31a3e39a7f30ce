using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Hosting;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Webhooks;

/// <summary>Registers and maps the TradingView webhook on nodes that run the engine (roles <c>all</c> and <c>engine</c>).</summary>
public static class WebhooksRegistration
{
    /// <summary>
    /// Adds the <c>Webhooks</c> options (validated at start), the webhook and its start-up loader. The loader must start
    /// after the engine state loader and before ingest (open signals restored, no candle yet): the server gives it its
    /// own stage between the two (SignalStreamHost).
    /// </summary>
    public static IServiceCollection AddSignalStreamWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhooksOptions>()
            .Bind(configuration.GetSection(WebhooksOptions.SectionName))
            .PostConfigure(o => o.ApplyCommaSeparated(configuration.GetSection(WebhooksOptions.SectionName)))
            .ValidateOnStart(static o => o.Validate());
        services.AddMetrics();
        services.AddSingleton<WebhookMetrics>();
        var served = new ServedMarkets(configuration);
        services.AddSingleton(sp => new TradingViewWebhook(
            sp.GetRequiredService<IOptions<WebhooksOptions>>(),
            sp.GetRequiredService<IAlertIntake>(),
            served.Symbols,
            served.Timeframes,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<WebhookMetrics>(),
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<ILogger<TradingViewWebhook>>()));
        services.AddHostedService(sp => new AlertStateLoader(
            sp.GetRequiredService<IEventStore>(),
            sp.GetRequiredService<IAlertIntake>(),
            sp.GetRequiredService<TradingViewWebhook>(),
            served.Symbols,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AlertStateLoader>>()));
        return services;
    }

    /// <summary>
    /// Maps <c>POST /api/webhooks/tradingview/{source}</c>. The source authenticates with its secret, not with a JWT, so
    /// the endpoint is anonymous under <c>Auth:Mode=jwt</c> too, and the REST API's rate limits do not apply (each
    /// source has its own).
    /// </summary>
    public static WebApplication MapSignalStreamWebhooks(this WebApplication app)
    {
        var webhook = app.Services.GetRequiredService<TradingViewWebhook>();
        app.MapPost(TradingViewWebhook.Route, (HttpContext http, string source) => webhook.HandleAsync(http, source))
            .AllowAnonymous()
            .DisableRateLimiting()
            .WithName("TradingViewWebhook");
        return app;
    }
}
