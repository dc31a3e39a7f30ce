using SignalStream.Contracts;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>
/// Rebuilds recurrent models' chains while the reader is idle, so that a stream's first live candle after warm-up
/// history, or after a reload, only steps. A rebuild steps up to 2L earlier rows a stream; for 2,000 streams and the
/// bundled models that is ~0.2 s of work, which would otherwise land on the first closing bell after a start.
/// </summary>
/// <remarks>The reader's own: it notes streams as it processes candles and primes them when the channel is empty.</remarks>
internal sealed class ChainPrimer
{
    private readonly List<PipelineStream> _pending = [];
    private ModelSet? _set;

    /// <summary>Streams whose chains are waiting to be rebuilt.</summary>
    public int Pending => _pending.Count;

    /// <summary>A closed candle of <paramref name="stream"/> was processed: a history candle runs no models, so its stream's chains fall behind.</summary>
    public void Processed(PipelineStream stream, CandleOrigin origin)
    {
        if (origin == CandleOrigin.History && _set is { HasRecurrentModels: true })
        {
            Add(stream);
        }
    }

    /// <summary>The model set the reader uses: after a swap, every stream's chains in a new recurrent version are still to be built.</summary>
    public void Using(ModelSet set, IEnumerable<PipelineStream> streams)
    {
        if (ReferenceEquals(set, _set))
        {
            return;
        }

        _set = set;
        if (set.HasRecurrentModels)
        {
            foreach (var stream in streams)
            {
                Add(stream);
            }
        }
    }

    /// <summary>Queues, for every noted stream and recurrent model that serves it, the rebuild of its chains through its newest row (the prediction is dropped).</summary>
    public async ValueTask PrimeAsync(ModelSet set, CancellationToken cancellationToken)
    {
        foreach (var stream in _pending)
        {
            stream.PrimePending = false;
            foreach (var model in set.For(stream.Key.Timeframe))
            {
                if (model.Recurrence is not { } recurrence || !stream.Features.HasWindow(1))
                {
                    continue;
                }

                var chain = stream.ChainFor(model, set);
                if (chain.IsCurrent(stream.Features) || !model.TryAcquire())
                {
                    continue;
                }

                var request = chain.Next(stream.Features, model.FeatureIndices, recurrence);
                try
                {
                    await model.Batcher.EnqueueAsync(request, DroppedPrediction.Instance, 0, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    model.Release();
                    throw;
                }
            }
        }

        _pending.Clear();
    }

    private void Add(PipelineStream stream)
    {
        if (!stream.PrimePending)
        {
            stream.PrimePending = true;
            _pending.Add(stream);
        }
    }

    /// <summary>Where a priming row's prediction goes: a history candle's is not wanted.</summary>
    private sealed class DroppedPrediction : IPredictionSink
    {
        public static readonly DroppedPrediction Instance = new();

        public void OnPrediction(int slot, float down, float flat, float up)
        {
        }

        public void OnFailed(int slot)
        {
        }
    }
}
