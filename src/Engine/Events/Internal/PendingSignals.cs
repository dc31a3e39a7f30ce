using SignalStream.Contracts;

namespace SignalStream.Engine.Events.Internal;

/// <summary>
/// Signals handed to the writer but not yet committed. The engine publishes a signal right after the writer accepts it,
/// so a hub repairing a hole may ask for it a few milliseconds before its group commit: reads merge these in.
/// </summary>
internal sealed class PendingSignals
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SortedList<long, Signal>> _bySymbol = new(StringComparer.Ordinal);

    public void Add(Signal signal)
    {
        lock (_lock)
        {
            if (!_bySymbol.TryGetValue(signal.Symbol, out var list))
            {
                list = [];
                _bySymbol.Add(signal.Symbol, list);
            }

            list[signal.Seq] = signal;
        }
    }

    public void Remove(Signal signal)
    {
        lock (_lock)
        {
            if (_bySymbol.TryGetValue(signal.Symbol, out var list) && list.TryGetValue(signal.Seq, out var held) && ReferenceEquals(held, signal))
            {
                list.Remove(signal.Seq);
            }
        }
    }

    public long LastSeq(string symbol)
    {
        lock (_lock)
        {
            return _bySymbol.TryGetValue(symbol, out var list) && list.Count > 0 ? list.Keys[^1] : 0;
        }
    }

    /// <summary>Pending signals of <paramref name="symbol"/> with seq &gt; <paramref name="afterSeq"/>, oldest first.</summary>
    public List<Signal> After(string symbol, long afterSeq)
    {
        lock (_lock)
        {
            var result = new List<Signal>();
            if (_bySymbol.TryGetValue(symbol, out var list))
            {
                foreach (var (seq, signal) in list)
                {
                    if (seq > afterSeq)
                    {
                        result.Add(signal);
                    }
                }
            }

            return result;
        }
    }
}
