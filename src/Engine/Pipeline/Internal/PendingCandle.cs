using System.Diagnostics;
using System.Threading.Tasks.Sources;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>
/// A candle update on its way out of the engine, waiting for its models' predictions: first for the live models' (its
/// signal is decided and published then), then for the shadow models' (journaled after). Reused through a pool; both
/// completions are reusable <see cref="IValueTaskSource"/>s, so waiting for them allocates nothing.
/// </summary>
internal sealed class PendingCandle : IPredictionSink
{
    private readonly Completion _live = new();
    private readonly Completion _all = new();
    private float[] _probabilities = new float[6];
    private bool[] _delivered = new bool[2];
    private int _liveRemaining;
    private int _remaining;

    public CandleUpdate Update { get; private set; }

    public IndicatorSnapshot Indicators { get; private set; }

    /// <summary>The model per slot (the model set's array for this timeframe).</summary>
    public LoadedModel[] Models { get; private set; } = [];

    /// <summary>Requests queued to shadow models: their predictions come after the live decision.</summary>
    public int ShadowRequests { get; private set; }

    /// <summary>
    /// What the signal stage was given at the live decision: the shadow predictions go with it. Cleared by the finisher
    /// before the candle goes back to the pool (the only way back), so a pooled candle keeps no result alive.
    /// </summary>
    public ClosedCandleResult? Decided { get; set; }

    /// <summary>The candle's trace and its open <c>inference</c> span, when tracing is on.</summary>
    public (Activity? Candle, Activity? Inference) Trace { get; set; }

    /// <summary>The candle's stream's emission order (which candle of the stream the finisher must have done first).</summary>
    public PipelineStream? Stream { get; private set; }

    /// <summary>The candle's place in the finisher's queue, set when the live decision hands it over.</summary>
    public long Ticket { get; set; }

    public void Reset(in CandleUpdate update, IndicatorSnapshot indicators, LoadedModel[] models, PipelineStream? stream = null)
    {
        Update = update;
        Indicators = indicators;
        Models = models;
        Stream = stream;
        Trace = default;
        Ticket = 0;
        ShadowRequests = 0;
        if (_delivered.Length < models.Length)
        {
            _delivered = new bool[models.Length];
            _probabilities = new float[models.Length * 3];
        }

        Array.Clear(_delivered);
        _live.Reset();
        _all.Reset();

        // The producer's guards, dropped by Seal().
        _liveRemaining = 1;
        _remaining = 1;
    }

    /// <summary>Counts one request for the model in <paramref name="slot"/> before it is queued (results may arrive before the producer is done).</summary>
    public void AddRequest(int slot)
    {
        Interlocked.Increment(ref _remaining);
        if (Models[slot].IsShadow)
        {
            ShadowRequests++;
        }
        else
        {
            Interlocked.Increment(ref _liveRemaining);
        }
    }

    /// <summary>The producer queued every request.</summary>
    public void Seal()
    {
        ArriveLive();
        ArriveAll();
    }

    /// <summary>Completes when every live model's request has its prediction (or failed).</summary>
    public ValueTask WhenLiveCompleteAsync() => _live.WaitAsync();

    /// <summary>Completes when every request, shadow ones included, has its prediction (or failed).</summary>
    public ValueTask WhenCompleteAsync() => _all.WaitAsync();

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
        Arrive(slot);
    }

    public void OnFailed(int slot) => Arrive(slot);

    private void Arrive(int slot)
    {
        if (!Models[slot].IsShadow)
        {
            ArriveLive();
        }

        ArriveAll();
    }

    // Interlocked orders the writes above before the completion the consumer observes.
    private void ArriveLive()
    {
        if (Interlocked.Decrement(ref _liveRemaining) == 0)
        {
            _live.Complete();
        }
    }

    private void ArriveAll()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _all.Complete();
        }
    }

    /// <summary>One reusable completion.</summary>
    private sealed class Completion : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public void Reset() => _core.Reset();

        public void Complete() => _core.SetResult(true);

        public ValueTask WaitAsync() => new(this, _core.Version);

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
