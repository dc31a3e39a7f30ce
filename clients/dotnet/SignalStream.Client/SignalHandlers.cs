namespace SignalStream.Client;

/// <summary>Callbacks of a signal subscription. They run on the connection's receive path: keep them short.</summary>
public sealed record SignalHandlers
{
    /// <summary>Every matching signal once, in seq order, with no gap.</summary>
    public required Action<SignalDelivery> OnSignal { get; init; }

    /// <summary>
    /// Outcomes of the symbol's published signals (matching the timeframe filter), once each, in outcomeSeq order: those
    /// resolved while the client was reconnecting are recovered on resume (<c>afterOutcomeSeq</c>) and come here like
    /// live ones. From a server that does not number outcomes (outcomeSeq 0) only live ones come, once each.
    /// </summary>
    public Action<SignalStream.Contracts.SignalOutcome>? OnResolved { get; init; }

    /// <summary>
    /// A <see cref="SignalGapException"/> when missed signals could not be recovered, an <see cref="OutcomeGapException"/>
    /// when missed outcomes could not all be recovered (only with <see cref="OnResolved"/>), a
    /// <see cref="SignalHistoryResetException"/> when the server's history ends before the client's position, a
    /// <see cref="SubscriptionRefusedException"/> when the server refused a re-subscribe, or a handler's own exception.
    /// The subscription stays active unless it was refused.
    /// </summary>
    public Action<Exception>? OnError { get; init; }
}
