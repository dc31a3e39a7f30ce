using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Notifications;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// The engine's publishing output: delivers to this node's clients (role <c>all</c>) and/or publishes once to the bus
/// (when Redis is configured) for hub nodes.
/// </summary>
/// <remarks>
/// Signals and outcomes reach it only after their group commit (<see cref="EngineOutputs"/> hands them to the event
/// writer, which calls this after the store acknowledged them), so any seq a node or a client sees is durable and hub
/// nodes can repair from the store whatever the bus loses. Shadow signals are journaled only, never published.
/// Only closed candles go on the bus: in-progress updates are frequent, best effort and served by role <c>all</c> nodes.
/// Candles are published on arrival, before inference and before the writer queues them: a crash in between re-ingests
/// the candle after the restart, so a display may receive the same closed bar twice (same stream and open time, same
/// values: an overwrite), never a wrong or missing one. Signals keep persist-then-publish with their seq. Notification
/// sinks are woken here, at the same point; they read the signal from the store themselves.
/// </remarks>
internal sealed class FanOutEngineOutput(SymbolFeeds? localFeeds, ISignalBus? bus, HubMetrics metrics, TimeProvider time, NotificationService? notifications = null) : IEngineOutput
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
        // PublishedAt was stamped before the store saw the signal (the stored and the published copies are one record);
        // the pipeline latency is measured here, at the real publication, so it includes the group commit.
        var published = signal;
        metrics.SignalPublished(published.ExchangeTime, time.GetUtcNow().ToUnixTimeMilliseconds());
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

        // Fire-and-forget like a signal: an outcome the bus loses is a hole in the outcomeSeqs its hub nodes repair from the store.
        bus?.TryPublish(BusMessage.For(outcome));
        notifications?.Published(outcome.Symbol);
        return localFeeds is null
            ? ValueTask.CompletedTask
            : localFeeds.GetOrCreate(outcome.Symbol).PostAsync(new(null, outcome), cancellationToken);
    }
}
