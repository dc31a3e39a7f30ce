using SignalStream.Client.Internal;
using SignalStream.Contracts;

namespace SignalStream.Client;

/// <summary>A live signal subscription; dispose it to unsubscribe.</summary>
public sealed class SignalSubscription : IAsyncDisposable
{
    private readonly SymbolChannel _channel;
    private readonly Func<Signal, bool> _accepts;
    private readonly SignalFilter _filter;
    private readonly SignalHandlers _handlers;
    private volatile bool _active = true;

    internal SignalSubscription(SymbolChannel channel, Func<Signal, bool> accepts, SignalFilter filter, SignalHandlers handlers)
    {
        _channel = channel;
        _accepts = accepts;
        _filter = filter;
        _handlers = handlers;
    }

    /// <summary>The symbol, upper-case.</summary>
    public string Symbol => _channel.Symbol;

    /// <summary>The last seq of the symbol the client has processed (delivered, or filtered out); null before the first.</summary>
    public long? LastSeq => _channel.LastSeq;

    /// <summary>False once disposed or refused by the server.</summary>
    public bool IsActive => _active;

    /// <summary>Unsubscribes; the server-side subscription ends with the symbol's last subscription.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_active)
        {
            return;
        }

        _active = false;
        await _channel.LeaveAsync(this).ConfigureAwait(false);
    }

    internal void Deliver(SignalDelivery delivery)
    {
        if (!_active || !_accepts(delivery.Signal))
        {
            return;
        }

        try
        {
            _handlers.OnSignal(delivery);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(new InvalidOperationException($"OnSignal threw for {delivery.Signal.Symbol} seq {delivery.Signal.Seq}: {ex.Message}", ex));
        }
    }

    /// <summary>True when this subscription takes outcomes: a loss of them concerns it.</summary>
    internal bool WantsOutcomes => _active && _handlers.OnResolved is not null;

    internal void DeliverOutcome(SignalOutcome outcome)
    {
        if (!_active || _handlers.OnResolved is not { } onResolved)
        {
            return;
        }

        if (_filter.Timeframes is { Count: > 0 } timeframes && !timeframes.Contains(outcome.Timeframe.ToName(), StringComparer.Ordinal))
        {
            return;
        }

        try
        {
            onResolved(outcome);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Fail(new InvalidOperationException($"OnResolved threw for {outcome.SignalId}: {ex.Message}", ex));
        }
    }

    internal void Fail(Exception error)
    {
        if (_handlers.OnError is not { } onError)
        {
            return;
        }

        try
        {
            onError(error);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The application's error handler itself failed: nothing left to tell, and the stream must go on.
            _ = ex;
        }
    }

    internal void Deactivate() => _active = false;
}
