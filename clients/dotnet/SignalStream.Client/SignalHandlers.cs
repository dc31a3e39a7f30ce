namespace SignalStream.Client;

/// <summary>Callbacks of a signal subscription. They run on the connection's receive path: keep them short.</summary>
public sealed record SignalHandlers
{
    /// <summary>Every matching signal once, in seq order, with no gap.</summary>
    public required Action<SignalDelivery> OnSignal { get; init; }

    /// <summary>Outcomes of the symbol's published signals (matching the timeframe filter); not replayed after a reconnect.</summary>
    public Action<SignalStream.Contracts.SignalOutcome>? OnResolved { get; init; }

    /// <summary>
    /// A <see cref="SignalGapException"/> when missed signals could not be recovered, a
    /// <see cref="SubscriptionRefusedException"/> when the server refused a re-subscribe, or a handler's own exception.
    /// </summary>
    public Action<Exception>? OnError { get; init; }
}
