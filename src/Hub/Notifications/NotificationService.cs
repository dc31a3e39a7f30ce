using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Hub.Notifications.Internal;
using SignalStream.Hub.Notifications.Internal.Senders;

namespace SignalStream.Hub.Notifications;

/// <summary>
/// Runs the configured notification sinks on a node that runs the engine. The publish point calls
/// <see cref="Published"/> for every signal and outcome it publishes; each sink then reads the committed events from
/// the store itself (docs/notifications.md).
/// </summary>
internal sealed class NotificationService : IHostedService, IAsyncDisposable
{
    // Counted in the host's shutdown timeout (ShutdownBudget).
    internal static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly SinkRunner[] _runners;
    private int _disposed;

    public NotificationService(
        IOptions<NotificationsOptions> options,
        IReadOnlyList<string> servedSymbols,
        IEventStore store,
        NotificationMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("SignalStream.Hub.Notifications");
        var runners = new List<SinkRunner>();
        var errors = new List<string>();
        foreach (var (name, sink) in options.Value.Sinks.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!sink.Enabled)
            {
                Log.SinkDisabled(logger, name);
                continue;
            }

            // Validated at start (NotificationsOptionsValidator): resolving again cannot fail.
            if (!SinkSettings.TryResolve(name, sink, errors, out var settings))
            {
                throw new OptionsValidationException(NotificationsOptions.SectionName, typeof(NotificationsOptions), errors);
            }

            var unserved = settings!.Filter.Symbols.Where(s => !servedSymbols.Contains(s, StringComparer.Ordinal)).Order(StringComparer.Ordinal).ToList();
            if (unserved.Count > 0)
            {
                Log.UnservedSymbols(logger, name, string.Join(", ", unserved));
            }

            var symbols = servedSymbols.Where(settings.Filter.TakesSymbol).ToList();
            var runner = new SinkRunner(settings, CreateSender(settings, time), symbols, store, metrics, options.Value.PollInterval, time, logger);
            metrics.Attach(runner);
            runners.Add(runner);
            Log.SinkStarted(logger, name, settings.TypeName, symbols.Count, settings.Filter.Events.ToString(), settings.Filter.MinConfidence, settings.Retry.MaxAttempts);
        }

        _runners = [.. runners];
    }

    /// <summary>The running sinks (for tests and the dead-letter endpoint).</summary>
    internal IReadOnlyList<SinkRunner> Sinks => _runners;

    /// <summary>
    /// A signal or outcome of <paramref name="symbol"/> was published (after its commit): wakes every sink that takes
    /// the symbol. Called on the engine's publish path: no allocation, no lock, no wait.
    /// </summary>
    public void Published(string symbol)
    {
        foreach (var runner in _runners)
        {
            runner.Wake(symbol);
        }
    }

    /// <summary>
    /// Loads every sink's progress (a few reads per sink and symbol) before the engine starts publishing; registered
    /// after the event store's writer, which has opened the store by then. A store that cannot be read is retried.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_runners.Select(r => r.StartAsync(cancellationToken)));

    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_runners.Select(r => r.StopAsync(StopTimeout)));

    public async ValueTask DisposeAsync()
    {
        // The container disposes this instance once per registration that resolves to it (itself, the hosted service).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var runner in _runners)
        {
            await runner.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static INotificationSender CreateSender(SinkSettings settings, TimeProvider time) => settings.Type switch
    {
        SinkType.Webhook => new WebhookSender(settings, time),
        SinkType.Discord => new DiscordSender(settings, time),
        SinkType.Slack => new SlackSender(settings, time),
        SinkType.Telegram => new TelegramSender(settings),
        SinkType.Email => new EmailSender(settings),
        _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Type, "unknown sink type"),
    };
}
