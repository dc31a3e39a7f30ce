using System.Diagnostics;
using System.Threading.Tasks.Sources;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>
/// A candle update on its way out of the engine, waiting for its models' predictions. Reused through a pool; its
/// completion is a reusable <see cref="IValueTaskSource"/>, so waiting for it allocates nothing.
/// </summary>
internal sealed class PendingCandle : IPredictionSink, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private float[] _probabilities = new float[6];
    private bool[] _delivered = new bool[2];
    private int _remaining;

    public CandleUpdate Update { get; private set; }

    public IndicatorSnapshot Indicators { get; private set; }

    /// <summary>The model per slot (the model set's array for this timeframe).</summary>
    public LoadedModel[] Models { get; private set; } = [];

    /// <summary>The candle's trace and its open <c>inference</c> span, when tracing is on.</summary>
    public (Activity? Candle, Activity? Inference) Trace { get; set; }

    public void Reset(in CandleUpdate update, IndicatorSnapshot indicators, LoadedModel[] models)
    {
        Update = update;
        Indicators = indicators;
        Models = models;
        Trace = default;
        if (_delivered.Length < models.Length)
        {
            _delivered = new bool[models.Length];
            _probabilities = new float[models.Length * 3];
        }

        Array.Clear(_delivered);
        _core.Reset();
        _remaining = 1; // the producer's guard, dropped by Seal()
    }

    /// <summary>Counts one request before it is queued (results may arrive before the producer is done).</summary>
    public void AddRequest() => Interlocked.Increment(ref _remaining);

    /// <summary>The producer queued every request.</summary>
    public void Seal() => Arrive();

    public ValueTask WhenCompleteAsync() => new(this, _core.Version);

    public bool TryGet(int slot, out float down, out float flat, out float up)
    {
        down = _probabilities[slot * 3];
        flat = _probabilities[(slot * 3) + 1];
        up = _probabilities[(slot * 3) + 2];
        return _delivered[slot];
    }

    public void OnPrediction(int slot, float down, float flat, float up)
    {
        _probabilities[slot * 3] = down;
        _probabilities[(slot * 3) + 1] = flat;
        _probabilities[(slot * 3) + 2] = up;
        _delivered[slot] = true;
        Arrive();
    }

    public void OnFailed(int slot) => Arrive();

    private void Arrive()
    {
        // Interlocked orders the writes above before the completion the consumer observes.
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _core.SetResult(true);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>Copies a stream's latest feature window into a batch row.</summary>
internal readonly struct FeatureWindowWriter(Features.StreamFeatureState state, int[] featureIndices, int window) : IBatchRowWriter
{
    public void Write(Span<float> row) => state.CopyWindow(featureIndices, window, row);
}
