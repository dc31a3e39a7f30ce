using SignalStream.Contracts;
using SignalStream.Engine;

namespace SignalStream.Tools.Replay;

/// <summary>The replay's last engine output: counts what the engine produced and releases the next stored candle.</summary>
internal sealed class ReplayProgress(StoredCandleReader reader) : IEngineOutput
{
    private long _candles;
    private long _signals;
    private long _shadowSignals;
    private long _outcomes;

    public long Candles => Interlocked.Read(ref _candles);

    public long Signals => Interlocked.Read(ref _signals);

    public long ShadowSignals => Interlocked.Read(ref _shadowSignals);

    public long Outcomes => Interlocked.Read(ref _outcomes);

    private long _expected = long.MaxValue;
    private long _firstClose;
    private long _lastClose;

    /// <summary>Close time of the first candle emitted (Unix ms; 0 before any).</summary>
    public long FirstCandleClose => Interlocked.Read(ref _firstClose);

    /// <summary>Close time of the last candle emitted.</summary>
    public long LastCandleClose => Interlocked.Read(ref _lastClose);

    /// <summary>Completes once the engine has emitted as many candles as <see cref="ExpectTotal"/> says.</summary>
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The reader has handed out its last candle: <paramref name="total"/> in all.</summary>
    public void ExpectTotal(long total)
    {
        Interlocked.Exchange(ref _expected, total);
        if (Candles >= total)
        {
            Done.TrySetResult();
        }
    }

    public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        // Candles leave the emitter one at a time, in stored order.
        Interlocked.CompareExchange(ref _firstClose, update.Candle.CloseTime, 0);
        Interlocked.Exchange(ref _lastClose, Math.Max(Interlocked.Read(ref _lastClose), update.Candle.CloseTime));

        // The pipeline emits a closed candle last, after the signal stage and the writer: the candle is done.
        if (Interlocked.Increment(ref _candles) >= Interlocked.Read(ref _expected))
        {
            Done.TrySetResult();
        }

        reader.Acknowledge();
        return ValueTask.CompletedTask;
    }

    public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _signals);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _shadowSignals);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _outcomes);
        return ValueTask.CompletedTask;
    }
}
