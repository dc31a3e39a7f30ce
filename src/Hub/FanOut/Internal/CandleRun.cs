using SignalStream.Contracts;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// Scratch for delivering a run of candles (<c>SymbolFeed.DeliverCandleRun</c>): the run, and each subscriber's messages
/// of it in order. One a thread, reused, since a delivery never awaits: a burst allocates nothing for it.
/// </summary>
internal sealed class CandleRun
{
    /// <summary>The most candles one run takes: a symbol's timeframes closing together, with room to spare.</summary>
    public const int MaxCandles = 16;

    [ThreadStatic]
    private static CandleRun? t_current;

    private readonly Stack<List<OutboundMessage>> _spare = new();

    public List<CandleMessage> Candles { get; } = new(MaxCandles);

    /// <summary>Each subscriber of the run and its messages, in the order the run's candles came.</summary>
    public Dictionary<ConnectionState, List<OutboundMessage>> Targets { get; } = new(ReferenceEqualityComparer.Instance);

    public static CandleRun ForThisThread() => t_current ??= new CandleRun();

    /// <summary>Adds one candle's message to each of its subscribers' lists.</summary>
    public void Add(ConnectionState[] subscribers, OutboundMessage message)
    {
        foreach (var connection in subscribers)
        {
            if (!Targets.TryGetValue(connection, out var messages))
            {
                messages = _spare.Count > 0 ? _spare.Pop() : new List<OutboundMessage>(MaxCandles);
                Targets.Add(connection, messages);
            }

            messages.Add(message);
        }
    }

    /// <summary>Empties the run; the lists are kept for the next (as many as the most subscribers one run had).</summary>
    public void Clear()
    {
        foreach (var messages in Targets.Values)
        {
            messages.Clear();
            _spare.Push(messages);
        }

        Targets.Clear();
        Candles.Clear();
    }
}
