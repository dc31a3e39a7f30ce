using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.Hubs;

/// <summary>
/// The <c>/hubs/signals</c> hub (docs/hub.md): <c>Subscribe</c>, <c>Unsubscribe</c>, <c>SubscribeCandles</c>,
/// <c>UnsubscribeCandles</c>. Events are not sent from here but by the per-symbol feeds, serialized once per message.
/// </summary>
internal sealed partial class SignalHub(
    ConnectionRegistry registry,
    SymbolFeeds feeds,
    ServedMarkets markets,
    IOptions<SignalHubOptions> options,
    HubMetrics metrics,
    ILogger<SignalHub> logger) : Microsoft.AspNetCore.SignalR.Hub
{
    public override Task OnConnectedAsync()
    {
        if (registry.IsStopping)
        {
            throw new HubException("The server is shutting down; connect to another node.");
        }

        var state = Current();
        if (state.Refused is { } refused)
        {
            throw new HubException(refused); // admitted at the handshake (long polling), past a connection cap
        }

        state.Entitlements = Entitlements.From(Context.User);
        state.ExpiresAtMs = Entitlements.ExpiryOf(Context.User);
        return Task.CompletedTask;
    }

    /// <summary>Subscribes to a symbol's signals; returns what was missed after <c>afterSeq</c> (or the latest per timeframe)
    /// and the outcomes after <c>afterOutcomeSeq</c>.</summary>
    public async Task<SubscribeResult> Subscribe(SubscribeRequest request)
    {
        if (request is null)
        {
            throw new HubException("Subscribe needs one argument: {symbol, timeframes?, minConfidence?, afterSeq?, afterOutcomeSeq?}.");
        }

        var state = Current();
        var symbol = Entitled(state, HubArguments.Symbol(request.Symbol, markets));
        var timeframes = HubArguments.Timeframes(request.Timeframes, markets);
        var minConfidence = HubArguments.MinConfidence(request.MinConfidence);
        var afterSeq = HubArguments.AfterSeq(request.AfterSeq);
        var afterOutcomeSeq = HubArguments.AfterOutcomeSeq(request.AfterOutcomeSeq);
        var limit = Limit(state);
        var subscription = new SignalSubscription(state, symbol, SignalSubscription.MaskOf(timeframes), minConfidence);
        if (!state.TryAddSignalSubscription(subscription, limit, out var replaced))
        {
            throw LimitReached(limit);
        }

        if (replaced is null)
        {
            metrics.SubscriptionsChanged(1);
        }

        try
        {
            var names = Array.ConvertAll(timeframes, t => t.ToName());
            return await feeds.SubscribeAsync(subscription, afterSeq, afterOutcomeSeq, names, Context.ConnectionAborted);
        }
        catch (SignalHistoryUnavailableException ex)
        {
            Undo(state, subscription, replaced);
            Log.HistoryUnavailable(logger, Context.ConnectionId, symbol);
            throw new HubException(ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not HubException)
        {
            Undo(state, subscription, replaced);
            Log.SubscribeFailed(logger, ex, symbol);
            throw new HubException($"Subscribing to {symbol} failed on the server; retry in a few seconds.");
        }
    }

    /// <summary>A Subscribe that failed changed nothing: the connection keeps the subscription it had (the feed still
    /// delivers to it), or has none.</summary>
    private void Undo(ConnectionState state, SignalSubscription failed, SignalSubscription? replaced)
    {
        if (replaced is not null)
        {
            state.TryAddSignalSubscription(replaced, int.MaxValue, out _);
        }
        else if (state.GetSignalSubscription(failed.Symbol) == failed && state.RemoveSignalSubscription(failed.Symbol) is not null)
        {
            metrics.SubscriptionsChanged(-1);
        }
    }

    /// <summary>Stops the symbol's signals for this connection (nothing happens when it was not subscribed).</summary>
    public async Task Unsubscribe(string symbol)
    {
        var state = Current();
        var normalized = HubArguments.Symbol(symbol, markets);
        if (state.RemoveSignalSubscription(normalized) is not null)
        {
            metrics.SubscriptionsChanged(-1);
            await feeds.UnsubscribeAsync(normalized, state);
        }
    }

    /// <summary>Subscribes to a stream's candle updates (closed ones in order, including backfilled ones).</summary>
    public async Task SubscribeCandles(string symbol, string timeframe)
    {
        var state = Current();
        var normalized = Entitled(state, HubArguments.Symbol(symbol, markets));
        var tf = HubArguments.Timeframe(timeframe, markets);
        var limit = Limit(state);
        var stream = new StreamKey(normalized, tf);
        var added = state.TryAddCandleSubscription(stream, limit);
        if (added < 0)
        {
            throw LimitReached(limit);
        }

        if (added == 0)
        {
            metrics.SubscriptionsChanged(1);
        }

        await feeds.AddCandleSubscriberAsync(stream, state, Context.ConnectionAborted);
    }

    public Task UnsubscribeCandles(string symbol, string timeframe)
    {
        var state = Current();
        var normalized = HubArguments.Symbol(symbol, markets);
        var tf = HubArguments.Timeframe(timeframe, markets);
        var stream = new StreamKey(normalized, tf);
        if (state.RemoveCandleSubscription(stream))
        {
            metrics.SubscriptionsChanged(-1);
            feeds.RemoveCandleSubscriber(stream, state);
        }

        return Task.CompletedTask;
    }

    private ConnectionState Current() =>
        registry.Find(Context.ConnectionId) ?? throw new HubException("This connection is closing; reconnect.");

    private int Limit(ConnectionState state) =>
        Math.Min(options.Value.MaxSubscriptionsPerConnection, state.Entitlements.MaxSubscriptions ?? int.MaxValue);

    private static HubException LimitReached(int limit) =>
        new($"Subscription limit reached: at most {limit} subscriptions (signals and candles together) per connection; unsubscribe from one first.");

    private string Entitled(ConnectionState state, string symbol)
    {
        if (!state.Entitlements.AllowsSymbol(symbol))
        {
            Log.NotEntitled(logger, Context.ConnectionId, symbol);
            throw new HubException($"Your access token does not entitle you to {symbol}; it allows: {state.Entitlements.Describe()}.");
        }

        return symbol;
    }

    private static partial class Log
    {
        [LoggerMessage(5010, LogLevel.Error, "Subscribe to {Symbol} failed")]
        public static partial void SubscribeFailed(ILogger logger, Exception exception, string symbol);

        [LoggerMessage(5012, LogLevel.Information, "Subscribe of connection {ConnectionId} to {Symbol} answered that the signal history is unavailable")]
        public static partial void HistoryUnavailable(ILogger logger, string connectionId, string symbol);

        [LoggerMessage(5011, LogLevel.Information, "Connection {ConnectionId} is not entitled to {Symbol}")]
        public static partial void NotEntitled(ILogger logger, string connectionId, string symbol);
    }
}
