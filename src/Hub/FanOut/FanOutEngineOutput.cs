using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Notifications;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// The engine's publishing output: stamps <see cref="Signal.PublishedAt"/>, then delivers to this node's clients
/// (role <c>all</c>) and/or publishes once to the bus (when Redis is configured) for hub nodes.
/// </summary>
/// <remarks>
/// Registered after the event writer, so a signal is persisted (or at least queued for persistence) before any node can
/// see it; hub nodes repair from the store whatever the bus loses. Shadow signals are journaled only, never published.
/// Only closed candles go on the bus: in-progress updates are frequent, best effort and served by role <c>all</c> nodes.
/// Candles are published on arrival, before inference and before the writer queues them: a crash in between re-ingests
/// the candle after the restart, so a display may receive the same closed bar twice (same stream and open time, same
/// values: an overwrite), never a wrong or missing one. Signals keep persist-then-publish with their seq. Notification
/// sinks are woken here, at the same point; they read the signal from the store themselves.
/// </remarks>
internal sealed class FanOutEngineOutput(SymbolFeeds? localFeeds, ISignalBus? bus, HubMetrics metrics, NotificationService? notifications = null) : IEngineOutput
{
    /// <summary>
    /// Candles go out as they arrive, ahead of inference: subscribers see the bar close at once, the signal after. Each
    /// goes through its symbol's queue, whose loop delivers it in order with the symbol's other messages, so a closing
    /// burst of many symbols is sent from every core instead of from the engine's thread.
    /// </summary>
    public ValueTask OnCandleArrivedAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        CandleMessage? message = null;
        if (bus is not null && update.IsClosed)
        {
            message = CandleMessage.From(update);
            bus.TryPublish(BusMessage.For(message));
        }

        return localFeeds?.Find(update.Candle.Symbol) is { } feed && feed.HasCandleSubscribers(update.Candle.Timeframe)
            ? feed.PostAsync(new(null, null, message ?? CandleMessage.From(update)), cancellationToken)
            : ValueTask.CompletedTask;
    }

    public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        // EngineOutputs stamped PublishedAt before the store saw the signal; this output only reads it.
        var published = signal;
        metrics.SignalPublished(published.ExchangeTime, published.PublishedAt);
        bus?.TryPublish(BusMessage.For(published));
        notifications?.Published(published.Symbol);
        return localFeeds is null
            ? ValueTask.CompletedTask
            : localFeeds.GetOrCreate(published.Symbol).PostAsync(new(published, null), cancellationToken);
    }

    public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        if (outcome.IsShadow)
        {
            return ValueTask.CompletedTask;
        }

        bus?.TryPublish(BusMessage.For(outcome));
        notifications?.Published(outcome.Symbol);
        return localFeeds is null
            ? ValueTask.CompletedTask
            : localFeeds.GetOrCreate(outcome.Symbol).PostAsync(new(null, outcome), cancellationToken);
    }
}
