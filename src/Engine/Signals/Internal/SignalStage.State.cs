using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

internal sealed partial class SignalStage
{
    /// <summary>An issued signal waiting for its outcome; <paramref name="Exit"/> once its source sent an <c>exit</c> alert.</summary>
    private readonly record struct OpenSignal(Signal Signal, bool IsShadow, ExitMark? Exit = null);

    /// <summary>A stream's market as of its last closed candle: what an alert is checked and levelled against.</summary>
    private readonly record struct MarketSnapshot(long CloseTime, decimal Close, double Atr);

    /// <summary>
    /// A TradingView vote of one source on one stream, counting for candles that close after <paramref name="ValidAfter"/>
    /// up to <paramref name="ExpiresAt"/>, until a later entry of the same source takes over. A null
    /// <paramref name="Prediction"/> is a withdrawal (an <c>exit</c> alert).
    /// </summary>
    private readonly record struct StandingVote(string Source, ModelPrediction? Prediction, long ValidAfter, long ExpiresAt);

    /// <summary>
    /// State of one (symbol, timeframe) stream. Open signals are bounded by the expiry: at most one published and one
    /// per shadow model per candle, each open for at most its expiry in candles.
    /// </summary>
    private sealed class StreamState
    {
        private volatile int _openCount;
        private volatile int _voteCount;
        private volatile int _replayedCount;
        private Queue<TradingViewAlertReceived>? _replayed;
        private MarketSnapshot? _market;

        public Lock Gate { get; } = new();

        public List<OpenSignal> Open { get; } = [];

        public int OpenCount => _openCount;

        /// <summary>Standing votes in arrival order (which is market-time order); caller holds <see cref="Gate"/>.</summary>
        public List<StandingVote> Votes { get; } = [];

        public int VoteCount => _voteCount;

        /// <summary>The last closed candle's close time, close and ATR, or null before the first.</summary>
        public MarketSnapshot? Market
        {
            get
            {
                lock (Gate)
                {
                    return _market;
                }
            }
        }

        public void RecordMarket(long closeTime, decimal close, double atr)
        {
            lock (Gate)
            {
                // A candle older than the last one (warm-up history after live candles) does not move market time back.
                if (_market is not { } last || closeTime >= last.CloseTime)
                {
                    _market = new MarketSnapshot(closeTime, close, atr);
                }
            }
        }

        /// <summary>Alerts a replay handed over, waiting for the candle they are due at (stored order).</summary>
        public int ReplayedCount => _replayedCount;

        public void AddReplayed(TradingViewAlertReceived alert)
        {
            lock (Gate)
            {
                (_replayed ??= new Queue<TradingViewAlertReceived>()).Enqueue(alert);
                _replayedCount = _replayed.Count;
            }
        }

        /// <summary>The replayed alerts due at a candle closing at <paramref name="closeTime"/> (market time before it), in order.</summary>
        public List<TradingViewAlertReceived>? TakeDueReplayed(long closeTime)
        {
            lock (Gate)
            {
                List<TradingViewAlertReceived>? due = null;
                while (_replayed is { Count: > 0 } queue && queue.Peek().MarketTime < closeTime)
                {
                    (due ??= []).Add(queue.Dequeue());
                }

                _replayedCount = _replayed?.Count ?? 0;
                return due;
            }
        }

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public void AddVote(StandingVote vote)
        {
            if (Votes.Count >= MaxVotesPerStream)
            {
                Votes.RemoveAt(0);
            }

            Votes.Add(vote);
            _voteCount = Votes.Count;
        }

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public void VotesChanged() => _voteCount = Votes.Count;

        /// <summary>Caller holds <see cref="Gate"/>.</summary>
        public void SetExit(int index, ExitMark exit) => Open[index] = Open[index] with { Exit = exit };

        /// <summary>What the last candle's shadow decisions read from its live decision, or null before the first kept.</summary>
        public KeptDecision? Kept { get; private set; }

        /// <summary>
        /// Keeps what the candle's shadow decisions read: its live predictions stay in <see cref="Live"/> (nothing else
        /// writes them before the stream's next candle), the symbol's fusion views are copied. Caller holds the symbol's gate.
        /// </summary>
        public void KeepForShadows(TimeframeView?[] views, long closeTime, int live, long decidedAt, int fusionFamilies)
        {
            var kept = Kept ??= new KeptDecision(fusionFamilies);
            kept.CloseTime = closeTime;
            kept.Live = live;
            kept.DecidedAt = decidedAt;
            for (var i = 0; i < views.Length; i++)
            {
                kept.Views[i].CopyFrom(views[i]);
            }
        }

        // Scratch buffers for partitioning predictions; only this stream's (sequential) calls touch them.
        public ModelPrediction[] Live { get; private set; } = new ModelPrediction[4];

        public ModelPrediction[] Shadows { get; private set; } = new ModelPrediction[4];

        public ModelPrediction[] Substituted { get; private set; } = new ModelPrediction[5];

        public void EnsureCapacity(int predictions)
        {
            if (Live.Length < predictions)
            {
                // Grown in place: votes are added after the live predictions already partitioned into these buffers.
                var live = Live;
                var shadows = Shadows;
                Live = new ModelPrediction[predictions];
                Shadows = new ModelPrediction[predictions];
                Substituted = new ModelPrediction[predictions + 1];
                live.CopyTo(Live, 0);
                shadows.CopyTo(Shadows, 0);
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

    /// <summary>A stream's last live decision as its candle's shadow decisions see it (reused in place: no allocation per candle).</summary>
    private sealed class KeptDecision
    {
        public KeptDecision(int fusionFamilies)
        {
            Views = new TimeframeView[Timeframes.All.Count];
            for (var i = 0; i < Views.Length; i++)
            {
                Views[i] = new TimeframeView(fusionFamilies);
            }

            ShadowView = new TimeframeView(fusionFamilies);
        }

        /// <summary>The decided candle's close time (which candle this is).</summary>
        public long CloseTime { get; set; }

        /// <summary>Live predictions, TradingView votes included, at the start of the stream's <see cref="StreamState.Live"/>.</summary>
        public int Live { get; set; }

        /// <summary>The live decision's time, the shadow signals' CreatedAt.</summary>
        public long DecidedAt { get; set; }

        /// <summary>The symbol's fusion views at the live decision, indexed by <see cref="Timeframe"/>.</summary>
        public TimeframeView[] Views { get; }

        /// <summary>Scratch view of a shadow decision's own timeframe.</summary>
        public TimeframeView ShadowView { get; }
    }

    /// <summary>State of one symbol, shared by its timeframes: the fusion views and the seq, behind <see cref="Gate"/>; the outcomeSeq behind <see cref="OutcomeGate"/>.</summary>
    private sealed class SymbolState(int fusionFamilies)
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>The last published seq, or -1 before it has been read from the store.</summary>
        public long LastSeq { get; set; } = -1;

        /// <summary>Guards <see cref="LastOutcomeSeq"/> and the outcomes' hand-off; apart from <see cref="Gate"/>, which a
        /// decision holds while it waits on the outputs.</summary>
        public SemaphoreSlim OutcomeGate { get; } = new(1, 1);

        /// <summary>The last published outcomeSeq, or -1 before it has been read from the store.</summary>
        public long LastOutcomeSeq { get; set; } = -1;

        /// <summary>The latest live view per timeframe, indexed by <see cref="Timeframe"/>.</summary>
        public TimeframeView?[] Views { get; } = new TimeframeView?[Timeframes.All.Count];

        public TimeframeView ViewOf(Timeframe timeframe) => Views[(int)timeframe] ??= new TimeframeView(fusionFamilies);
    }
}
