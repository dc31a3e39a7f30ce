using SignalStream.Contracts;

namespace SignalStream.Client;

/// <summary>Callbacks of a candle subscription. They run on the connection's receive path: keep them short.</summary>
public sealed record CandleHandlers
{
    /// <summary>
    /// Every update of the stream: in-progress ones of the current bar, and every closed candle once, in openTime order,
    /// those closed while the client was reconnecting included (fetched from <c>/api/candles</c>).
    /// </summary>
    public required Action<CandleMessage> OnCandle { get; init; }

    /// <summary>
    /// A <see cref="CandleGapException"/> when closed candles missed while reconnecting could not be fetched, a
    /// <see cref="SubscriptionRefusedException"/> when the server refused a re-subscribe, or the handler's own exception.
    /// </summary>
    public Action<Exception>? OnError { get; init; }
}
