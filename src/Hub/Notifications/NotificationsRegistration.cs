using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Hosting;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Notifications.Internal;
using SignalStream.Ingest;

namespace SignalStream.Hub.Notifications;

/// <summary>Registers the notification sinks (on nodes that run the engine) and their dead-letter endpoint.</summary>
public static class NotificationsRegistration
{
    /// <summary>
    /// Binds and validates <c>Notifications</c> (every node: a bad sink stops any start), and on an engine node adds the
    /// <see cref="NotificationService"/> the publish point wakes. Register after the event store: the sinks read it.
    /// </summary>
    public static IServiceCollection AddSignalStreamNotifications(this IServiceCollection services, IConfiguration configuration, NodeRoles roles)
    {
        services.AddOptions<NotificationsOptions>()
            .Bind(configuration.GetSection(NotificationsOptions.SectionName))
            .PostConfigure(o => AcceptCommaSeparatedLists(o, configuration.GetSection(NotificationsOptions.SectionName)))
            .ValidateOnStart(NotificationsOptionsValidator.Validate);
        if (!roles.RunsEngine)
        {
            return services;
        }

        services.AddSingleton<NotificationMetrics>();
        services.AddSingleton(sp => new NotificationService(
            sp.GetRequiredService<IOptions<NotificationsOptions>>(),
            IngestOptions.Bind(configuration).ResolvedSymbols(),
            sp.GetRequiredService<IEventStore>(),
            sp.GetRequiredService<NotificationMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<NotificationService>());
        return services;
    }

    /// <summary>Maps <c>/api/notifications</c> beside the rest of the REST API (on nodes that serve clients).</summary>
    public static WebApplication MapSignalStreamNotifications(this WebApplication app, NodeRoles roles)
    {
        if (roles.ServesClients)
        {
            app.MapSignalStreamNotifications(
                app.Services.GetRequiredService<IOptions<Auth.AuthOptions>>().Value.IsJwt,
                roles.RunsEngine ? app.Services.GetRequiredService<NotificationService>() : null);
        }

        return app;
    }

    /// <summary>
    /// <c>--Notifications:Sinks:desk:Symbols=BTCUSDT,ETHUSDT</c> is one string, which the binder does not make a list:
    /// such values are split on commas (an indexed list, <c>Symbols:0</c>, binds as usual).
    /// </summary>
    private static void AcceptCommaSeparatedLists(NotificationsOptions options, IConfigurationSection section)
    {
        foreach (var (name, sink) in options.Sinks)
        {
            var s = section.GetSection("Sinks").GetSection(name);
            sink.Symbols = Split(s[nameof(SinkOptions.Symbols)]) ?? sink.Symbols;
            sink.Timeframes = Split(s[nameof(SinkOptions.Timeframes)]) ?? sink.Timeframes;
            sink.Events = Split(s[nameof(SinkOptions.Events)]) ?? sink.Events;
            sink.Smtp.To = Split(s.GetSection(nameof(SinkOptions.Smtp))[nameof(SinkOptions.SmtpSettings.To)]) ?? sink.Smtp.To;
        }
    }

    private static List<string>? Split(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>Every problem of every sink, each with its fix; secrets are never part of a message.</summary>
    private static class NotificationsOptionsValidator
    {
        public static List<string> Validate(NotificationsOptions options)
        {
            var errors = new List<string>();
            if (options.Sinks.Count > NotificationsOptions.MaxSinks)
            {
                errors.Add($"Notifications:Sinks has {options.Sinks.Count} sinks; at most {NotificationsOptions.MaxSinks} are supported (one sink can take several symbols and timeframes).");
            }

            if (options.PollInterval < TimeSpan.FromSeconds(1) || options.PollInterval > TimeSpan.FromHours(1))
            {
                errors.Add($"Notifications:PollInterval is {options.PollInterval}; use 00:00:01 to 01:00:00 (default 00:00:30).");
            }

            foreach (var (sinkName, sink) in options.Sinks)
            {
                SinkSettings.TryResolve(sinkName, sink, errors, out var resolved);
                resolved?.Smtp?.TrustedCertificate?.Dispose(); // only checked here; the service resolves its own
            }

            return errors;
        }
    }
}
