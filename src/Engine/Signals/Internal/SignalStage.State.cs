using SignalStream.Contracts;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

internal sealed partial class SignalStage
{
    /// <summary>An issued signal waiting for its outcome.</summary>
    private readonly record struct OpenSignal(Signal Signal, bool IsShadow);

    /// <summary>
    /// State of one (symbol, timeframe) stream. Open signals are bounded by the expiry: at most one published and one
    /// per shadow model per candle, each open for at most its expiry in candles.
    /// </summary>
    private sealed class StreamState
    {
        private volatile int _openCount;

        public Lock Gate { get; } = new();

        public List<OpenSignal> Open { get; } = [];

        public int OpenCount => _openCount;

        // Scratch buffers for partitioning predictions; only this stream's (sequential) calls touch them.
        public ModelPrediction[] Live { get; private set; } = new ModelPrediction[4];

        public ModelPrediction[] Shadows { get; private set; } = new ModelPrediction[4];

        public ModelPrediction[] Substituted { get; private set; } = new ModelPrediction[5];

        public void EnsureCapacity(int predictions)
        {
            if (Live.Length < predictions)
            {
                Live = new ModelPrediction[predictions];
                Shadows = new ModelPrediction[predictions];
                Substituted = new ModelPrediction[predictions + 1];
            }
        }

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public void Add(OpenSignal open)
        {
            Open.Add(open);
            _openCount = Open.Count;
        }

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public void RemoveAt(int index)
        {
            Open.RemoveAt(index);
            _openCount = Open.Count;
        }

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public int IndexOf(string signalId)
        {
            for (var i = 0; i < Open.Count; i++)
            {
                if (string.Equals(Open[i].Signal.Id, signalId, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }
    }

    /// <summary>State of one symbol, shared by its timeframes: the fusion views and the seq, behind <see cref="Gate"/>.</summary>
    private sealed class SymbolState(int fusionFamilies)
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>The last published seq, or -1 before it has been read from the store.</summary>
        public long LastSeq { get; set; } = -1;

        /// <summary>The latest live view per timeframe, indexed by <see cref="Timeframe"/>.</summary>
        public TimeframeView?[] Views { get; } = new TimeframeView?[Timeframes.All.Count];

        /// <summary>Scratch view for shadow decisions.</summary>
        public TimeframeView ShadowView { get; } = new(fusionFamilies);

        public TimeframeView ViewOf(Timeframe timeframe) => Views[(int)timeframe] ??= new TimeframeView(fusionFamilies);
    }
}
