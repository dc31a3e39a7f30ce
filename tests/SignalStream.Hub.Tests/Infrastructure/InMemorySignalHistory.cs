using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.EventStore;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// A signal store for tests, shared in-process by the nodes a test starts (the PostgreSQL provider from the events
/// work replaces it once merged). Appending can be held back to simulate a store that lags the bus.
/// </summary>
internal sealed class InMemorySignalHistory : ISignalHistory
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<Signal>> _signals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<SignalOutcome>> _outcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<StreamKey, List<Candle>> _candles = [];

    public int Reads { get; private set; }

    public void Append(Signal signal)
    {
        lock (_gate)
        {
            if (!_signals.TryGetValue(signal.Symbol, out var list))
            {
                _signals[signal.Symbol] = list = [];
            }

            if (list.Count > 0 && list[^1].Seq + 1 != signal.Seq)
            {
                throw new InvalidOperationException($"test store: {signal.Symbol} seq {signal.Seq} after {list[^1].Seq}");
            }

            list.Add(signal);
        }
    }

    /// <summary>Stores a numbered outcome (an unnumbered or shadow one is not part of the outcomes stream).</summary>
    public void Append(SignalOutcome outcome)
    {
        if (outcome.OutcomeSeq == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (!_outcomes.TryGetValue(outcome.Symbol, out var list))
            {
                _outcomes[outcome.Symbol] = list = [];
            }

            if (list.Count + 1 != outcome.OutcomeSeq)
            {
                throw new InvalidOperationException($"test store: {outcome.Symbol} outcomeSeq {outcome.OutcomeSeq} after {list.Count}");
            }

            list.Add(outcome);
        }
    }

    /// <summary>Stores a closed candle; like the event writer, one at or before the stream's newest is skipped.</summary>
    public void Append(Candle candle)
    {
        lock (_gate)
        {
            if (!_candles.TryGetValue(candle.Stream, out var list))
            {
                _candles[candle.Stream] = list = [];
            }

            if (list.Count == 0 || list[^1].OpenTime < candle.OpenTime)
            {
                list.Add(candle);
            }
        }
    }

    public ValueTask<IReadOnlyList<Candle>> ReadCandlesAsync(StreamKey stream, long afterOpenTime, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Reads++;
            IReadOnlyList<Candle> result = _candles.TryGetValue(stream, out var list)
                ? list.Where(c => c.OpenTime > afterOpenTime).Take(limit).ToArray()
                : [];
            return ValueTask.FromResult(result);
        }
    }

    public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_outcomes.TryGetValue(symbol, out var list) ? (long)list.Count : 0L);
        }
    }

    public ValueTask<IReadOnlyList<SignalOutcome>> ReadOutcomesAsync(string symbol, long afterOutcomeSeq, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Reads++;
            IReadOnlyList<SignalOutcome> result = _outcomes.TryGetValue(symbol, out var list)
                ? list.Where(o => o.OutcomeSeq > afterOutcomeSeq).Take(limit).ToArray()
                : [];
            return ValueTask.FromResult(result);
        }
    }

    public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_signals.TryGetValue(symbol, out var list) && list.Count > 0 ? list[^1].Seq : 0L);
        }
    }

    public ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Reads++;
            IReadOnlyList<Signal> result = _signals.TryGetValue(symbol, out var list)
                ? list.Where(s => s.Seq > afterSeq).Take(limit).ToArray()
                : [];
            return ValueTask.FromResult(result);
        }
    }

    public ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<Signal> result = _signals.TryGetValue(symbol, out var list)
                ? list.GroupBy(s => s.Timeframe).Select(g => g.Last()).OrderBy(s => s.Seq).ToArray()
                : [];
            return ValueTask.FromResult(result);
        }
    }
}

/// <summary>Stands in for the event writer: stores each signal and numbered outcome, then (its "commit" done) hands it to the publishers.</summary>
internal sealed class StoreWriterOutput(InMemorySignalHistory store) : IDurableEngineOutput
{
    public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        if (update.IsClosed)
        {
            store.Append(update.Candle);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask OnSignalAsync(Signal signal, IEngineOutput committed, CancellationToken cancellationToken)
    {
        store.Append(signal);
        return committed.OnSignalAsync(signal, cancellationToken);
    }

    public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnOutcomeAsync(SignalOutcome outcome, IEngineOutput committed, CancellationToken cancellationToken)
    {
        store.Append(outcome);
        return committed.OnOutcomeAsync(outcome, cancellationToken);
    }
}
