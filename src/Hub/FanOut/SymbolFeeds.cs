using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// This node's per-symbol feeds. Fed by the local engine (role <c>all</c>) or by the bus (role <c>hub</c>); on a bus node
/// a feed, and the node's bus subscription for its symbol, starts when the first client subscribes to the symbol.
/// </summary>
internal sealed partial class SymbolFeeds : IBusListener, IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, SymbolFeed> _feeds = new(StringComparer.Ordinal);
    private readonly Lock _createGate = new();
    private readonly FeedContext _context;
    private readonly ISignalBus? _source;
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "No timer and no parent: nothing to release; its token is read by feeds created up to the end (see Dispose).")]
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _catchUpTimer;

    /// <param name="history">The store, every read bounded in time; null on a node without one.</param>
    /// <param name="onSlowConsumer">Cuts off a connection that cannot keep up.</param>
    /// <param name="source">The bus this node receives from, or null when its engine runs in-process.</param>
    public SymbolFeeds(
        SignalHubOptions options,
        SignalHistoryReader? history,
        HubMetrics metrics,
        TimeProvider time,
        ILogger logger,
        Action<ConnectionState> onSlowConsumer,
        ISignalBus? source)
    {
        _context = new FeedContext(options, history, metrics, time, logger, onSlowConsumer);
        _source = source;
        source?.SetListener(this);
    }

    public IEnumerable<SymbolFeed> All => _feeds.Values;

    public SymbolFeed? Find(string symbol) => _feeds.GetValueOrDefault(symbol);

    /// <summary>The symbol's feed, created (and, on a bus node, subscribed on the bus) when missing.</summary>
    public async ValueTask<SymbolFeed> GetOrCreateAsync(string symbol, CancellationToken cancellationToken)
    {
        var feed = GetOrCreate(symbol);
        if (_source is not null)
        {
            // Subscribe before the caller takes its snapshot, so nothing published after the snapshot is missed.
            await _source.SubscribeAsync(symbol, cancellationToken).ConfigureAwait(false);
        }

        return feed;
    }

    public SymbolFeed GetOrCreate(string symbol)
    {
        if (_feeds.TryGetValue(symbol, out var feed))
        {
            return feed;
        }

        lock (_createGate)
        {
            return _feeds.GetOrAdd(symbol, s => new SymbolFeed(s, _context, _stopping.Token));
        }
    }

    /// <summary>
    /// Subscribes a connection to its symbol's signals and outcomes, the feed created (and subscribed on the bus) when
    /// missing: what it missed after <paramref name="afterSeq"/> (or the latest per timeframe) and, when given, the
    /// outcomes after <paramref name="afterOutcomeSeq"/>, then live.
    /// </summary>
    public async ValueTask<SubscribeResult> SubscribeAsync(
        SignalSubscription subscription, long? afterSeq, long? afterOutcomeSeq, IReadOnlyList<string> timeframeNames, CancellationToken cancellationToken)
    {
        var feed = await GetOrCreateAsync(subscription.Symbol, cancellationToken).ConfigureAwait(false);
        return await feed.SubscribeAsync(subscription, afterSeq, afterOutcomeSeq, timeframeNames, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops a symbol's signals for a connection (nothing happens without a feed).</summary>
    public ValueTask UnsubscribeAsync(string symbol, ConnectionState connection) =>
        _feeds.TryGetValue(symbol, out var feed) ? feed.UnsubscribeAsync(connection) : ValueTask.CompletedTask;

    /// <summary>Sends a stream's candle updates to a connection, the symbol's feed created when missing.</summary>
    public async ValueTask AddCandleSubscriberAsync(StreamKey stream, ConnectionState connection, CancellationToken cancellationToken)
    {
        var feed = await GetOrCreateAsync(stream.Symbol, cancellationToken).ConfigureAwait(false);
        feed.AddCandleSubscriber(stream.Timeframe, connection);
    }

    /// <summary>Stops a stream's candle updates for a connection.</summary>
    public void RemoveCandleSubscriber(StreamKey stream, ConnectionState connection) =>
        Find(stream.Symbol)?.RemoveCandleSubscriber(stream.Timeframe, connection);

    void IBusListener.OnMessage(BusMessage message)
    {
        if (!_feeds.TryGetValue(message.Symbol, out var feed))
        {
            return;
        }

        switch (message.Kind)
        {
            case BusMessageKind.Candle when feed.HasCandleSubscribers(message.Candle!.Timeframe):
            case BusMessageKind.Signal:
            case BusMessageKind.Outcome:
                // A full queue loses the message here: signals (by seq) and outcomes (by outcomeSeq) are repaired from
                // the store like any hole, when the next one or the periodic catch-up shows it. A closed candle is
                // not: live candles are never replayed, and the next bar replaces it on screen (docs/hub.md).
                if (!feed.TryPost(new FeedItem(message.Signal, message.Outcome, message.Candle)))
                {
                    Log.InboundFull(_context.Logger, message.Symbol);
                }

                break;
        }
    }

    void IBusListener.OnBusRestored() => RequestCatchUp();

    private void RequestCatchUp()
    {
        foreach (var feed in _feeds.Values)
        {
            feed.RequestCatchUp();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_source is not null)
        {
            // A message lost at the tail of a quiet symbol would otherwise wait for the next signal to reveal the hole.
            var interval = _context.Options.CatchUpInterval;
            _catchUpTimer = _context.Time.CreateTimer(_ => RequestCatchUp(), null, interval, interval);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _catchUpTimer?.Dispose();
        foreach (var feed in _feeds.Values)
        {
            feed.Complete();
        }

        // Let the loops deliver what is already queued, then stop them.
        var loops = Task.WhenAll(_feeds.Values.Select(f => f.Loop));
        await Task.WhenAny(loops, Task.Delay(_context.Options.ShutdownDrainTimeout, _context.Time, cancellationToken)).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        // Disposed twice (as itself and as a hosted service); the token source is left to the GC for that reason.
        _catchUpTimer?.Dispose();
        if (!_stopping.IsCancellationRequested)
        {
            _stopping.Cancel();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5210, LogLevel.Warning, "{Symbol}: inbound queue full, dropped a bus message (repaired from the store)")]
        public static partial void InboundFull(ILogger logger, string symbol);
    }
}
