using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Webhooks;

/// <summary>
/// At start, after the stored signals are restored and before the first candle: reads each served symbol's newest stored
/// TradingView alerts (<c>alerts-{SYMBOL}</c>, at most <see cref="MaxAlertsPerSymbol"/>), oldest first, and gives them
/// back to the engine (standing votes, exit marks) and to the webhook (the duplicate window), so a restart forgets neither.
/// </summary>
internal sealed partial class AlertStateLoader(
    IEventStore store,
    IAlertIntake intake,
    TradingViewWebhook webhook,
    IReadOnlyList<string> symbols,
    TimeProvider time,
    ILogger<AlertStateLoader> logger) : IHostedService
{
    /// <summary>Newest alerts read per symbol: far more than live votes or a duplicate window hold at the default limits.</summary>
    internal const int MaxAlertsPerSymbol = 10_000;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        int restored = 0, remembered = 0, unreadable = 0;
        foreach (var symbol in symbols)
        {
            var stream = EventStreams.Alerts(symbol);
            var version = await store.GetStreamVersionAsync(stream, cancellationToken).ConfigureAwait(false);
            if (version == 0)
            {
                continue;
            }

            var stored = await store.ReadStreamAsync(stream, Math.Max(1, version - MaxAlertsPerSymbol + 1), MaxAlertsPerSymbol, cancellationToken)
                .ConfigureAwait(false);
            foreach (var e in stored)
            {
                if (!EventSerializer.TryDeserialize(e, out var decoded, out var error) || decoded is not TradingViewAlertReceived alert)
                {
                    Log.Unreadable(logger, e.StreamId, e.Version, error ?? "not an alert");
                    unreadable++;
                    continue;
                }

                intake.Restore(alert);
                restored++;
                var name = alert.Source.StartsWith(SignalSources.TradingViewPrefix, StringComparison.Ordinal)
                    ? alert.Source[SignalSources.TradingViewPrefix.Length..]
                    : alert.Source;
                if (webhook.Sources.TryGetValue(name, out var source))
                {
                    var mode = string.Equals(alert.Mode, "vote", StringComparison.Ordinal) ? AlertMode.Vote : AlertMode.Signal;
                    var result = alert.Vote is { } vote && alert.Signal is { } wouldBe
                        ? new AlertResult.Voted(wouldBe.Id, vote.Weight, vote.ExpiresAt)
                        : alert.Signal is { } signal
                            ? (AlertResult)new AlertResult.Published(signal.Id, 0, signal.Target, signal.Stop)
                            : new AlertResult.Exited(0);
                    var answer = TradingViewWebhook.Answer(alert.Source, mode, alert.Action, alert.Symbol, alert.Timeframe, alert.Id, result);

                    // The seq is not in the alert (it is assigned after): an answer rebuilt here leaves it out.
                    answer = answer with { Seq = null };
                    if (source.Dedupe.Remember(alert.DedupeKey, answer, TimeSpan.FromMilliseconds(Math.Max(0, now - alert.ReceivedAt))))
                    {
                        remembered++;
                    }
                }
            }
        }

        Log.Restored(logger, restored, remembered, symbols.Count);
        if (unreadable > 0)
        {
            Log.UnreadableTotal(logger, unreadable);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(5810, LogLevel.Information, "Restored {Alerts} stored TradingView alerts (votes, exits) across {Symbols} symbols; {Remembered} kept for duplicate detection")]
        public static partial void Restored(ILogger logger, int alerts, int remembered, int symbols);

        [LoggerMessage(5811, LogLevel.Error, "Stored alert {StreamId} v{Version} could not be decoded: {Error}")]
        public static partial void Unreadable(ILogger logger, string streamId, long version, string error);

        [LoggerMessage(5812, LogLevel.Warning, "{Count} stored TradingView alerts could not be restored (see the preceding errors)")]
        public static partial void UnreadableTotal(ILogger logger, int count);
    }
}
