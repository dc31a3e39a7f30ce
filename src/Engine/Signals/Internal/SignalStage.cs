using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>
/// The signal stage: for every closed candle it first resolves the stream's open signals, then decides a published
/// signal from the live models and a would-be signal per shadow model.
/// </summary>
/// <remarks>
/// The engine hands a candle's shadow predictions over after its live decision (<see cref="OnShadowPredictionsAsync"/>),
/// so a published signal never waits for a shadow model. What a shadow decision reads from the live one (the live
/// predictions with the votes that counted, the symbol's fusion views, the decision's time) is kept per stream at the
/// live decision (<see cref="StreamState.Kept"/>), so the would-be signal is the same whether the shadow predictions came
/// with the live ones or later, live or in a replay.
/// <para>
/// Calls for one stream are sequential (the pipeline's contract), so per-stream state needs no lock against itself;
/// streams of one symbol may run concurrently, so per-symbol state (fusion views, seq) sits behind an async gate that
/// is held until the signal has been handed to the outputs: seq is assigned and delivered in order, without holes.
/// </para>
/// </remarks>
internal sealed partial class SignalStage : ISignalStage, ISignalStateRestore, IAlertIntake
{
    private readonly SignalDecider _decider;
    private readonly SignalRules _rules;
    private readonly EngineOutputs _outputs;
    private readonly ISignalSequence _sequence;
    private readonly SignalJournal _journal;
    private readonly SignalsMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<StreamKey, StreamState> _streams = new();
    private readonly ConcurrentDictionary<string, SymbolState> _symbols = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _warnedModels = new(StringComparer.Ordinal);

    // Ids of outcomes seen during restore (bounded by the stored history; emptied by RestoreCompleted).
    private readonly ConcurrentDictionary<string, byte> _restoredOutcomes = new(StringComparer.Ordinal);

    public SignalStage(
        SignalRules rules,
        EngineOutputs outputs,
        ISignalSequence sequence,
        SignalJournal journal,
        SignalsMetrics metrics,
        TimeProvider time,
        ILogger<SignalStage> logger)
    {
        _rules = rules;
        _decider = new SignalDecider(rules);
        _outputs = outputs;
        _sequence = sequence;
        _journal = journal;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <remarks>
    /// Sync fast path: a candle that resolves nothing and gives no signal completes without awaiting or allocating
    /// (most candles); only emitting goes async.
    /// </remarks>
    public ValueTask OnClosedCandleAsync(ClosedCandleResult result, CancellationToken cancellationToken)
    {
        var update = result.Update;
        if (!update.IsClosed)
        {
            return default;
        }

        // Every closed candle, warm-up included, moves the market an alert is checked against (last close, ATR).
        var stream = _streams.GetOrAdd(update.Candle.Stream, static _ => new StreamState());
        stream.RecordMarket(update.Candle.CloseTime, update.Candle.Close, result.Indicators.Atr14);
        if (stream.ReplayedCount > 0 && stream.TakeDueReplayed(update.Candle.CloseTime) is { } due)
        {
            return ApplyReplayedThenHandleAsync(stream, due, result, cancellationToken);
        }

        // History candles are warm-up: too old to trade on, and older than any open signal.
        if (update.Origin == CandleOrigin.History)
        {
            return default;
        }
        // When the shadow predictions follow, the shadow signals resolve with them: no subscriber waits for a shadow
        // outcome, so the live decision does not wait behind them.
        var resolved = stream.OpenCount > 0 ? CollectResolved(stream, update.Candle, live: true, shadow: !result.ShadowPredictionsFollow) : null;
        if (resolved is not null)
        {
            return ResolveThenDecideAsync(stream, resolved, result, cancellationToken);
        }

        return HasDecision(result) ? DecideAsync(stream, result, cancellationToken) : default;
    }

    public ValueTask OnShadowPredictionsAsync(ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decided);
        ArgumentNullException.ThrowIfNull(shadowPredictions);
        var candle = decided.Update.Candle;
        if (!decided.Update.IsClosed || !_streams.TryGetValue(candle.Stream, out var stream))
        {
            return default;
        }

        if (stream.Kept is not { } kept || kept.CloseTime != candle.CloseTime)
        {
            // The engine's contract broken (no live decision announced these): dropped loudly rather than decided against
            // another candle's live predictions.
            Log.ShadowPredictionsDropped(_logger, candle.Stream.ToString(), candle.OpenTime, "no live decision of this candle announced them");
            return default;
        }

        // The stream's shadow signals were left open by the live call (OnClosedCandleAsync) for this one.
        var resolved = decided.ShadowPredictionsFollow && stream.OpenCount > 0 ? CollectResolved(stream, candle, live: false, shadow: true) : null;
        if (resolved is not null)
        {
            return ResolveThenDecideShadowsAsync(stream, resolved, decided, shadowPredictions, cancellationToken);
        }

        return DecideShadowPredictionsAsync(stream, decided, shadowPredictions, cancellationToken);
    }

    private ValueTask DecideShadowPredictionsAsync(StreamState stream, ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken)
    {
        if (shadowPredictions.Count == 0)
        {
            return default;
        }

        var (_, shadows) = Partition(stream, decided, shadowPredictions, liveAllowed: false);
        return shadows == 0 ? default : DecideShadowsAsync(stream, decided, shadows, cancellationToken);
    }

    private async ValueTask ResolveThenDecideShadowsAsync(
        StreamState stream, List<(OpenSignal Open, SignalOutcome Outcome)> resolved, ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken)
    {
        await ResolveAsync(stream, resolved, cancellationToken).ConfigureAwait(false);
        await DecideShadowPredictionsAsync(stream, decided, shadowPredictions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the candle has anything to decide: predictions now, or shadow ones to come (which need the live decision kept).</summary>
    private static bool HasDecision(ClosedCandleResult result) => result.Predictions.Count > 0 || result.ShadowPredictionsFollow;

    public void RestoreSignal(Signal signal, bool isShadow)
    {
        ArgumentNullException.ThrowIfNull(signal);

        // The store keeps signals and outcomes in separate streams, so an outcome may be replayed before its signal.
        if (_restoredOutcomes.ContainsKey(signal.Id))
        {
            return;
        }

        var stream = _streams.GetOrAdd(new StreamKey(signal.Symbol, signal.Timeframe), static _ => new StreamState());
        lock (stream.Gate)
        {
            if (stream.IndexOf(signal.Id) < 0)
            {
                stream.Add(new OpenSignal(signal, isShadow));
            }
        }

        _journal.Track(signal, isShadow);
    }

    public void RestoreOutcome(SignalOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        _restoredOutcomes.TryAdd(outcome.SignalId, 0);
        if (_streams.TryGetValue(new StreamKey(outcome.Symbol, outcome.Timeframe), out var stream))
        {
            lock (stream.Gate)
            {
                var i = stream.IndexOf(outcome.SignalId);
                if (i >= 0)
                {
                    stream.RemoveAt(i);
                }
            }
        }

        _journal.Apply(outcome);
    }

    public void RestoreCompleted()
    {
        _restoredOutcomes.Clear();
        var open = 0;
        foreach (var (_, stream) in _streams)
        {
            open += stream.OpenCount;
        }

        Log.Restored(_logger, open, _journal.OpenLiveSignals);
    }

    /// <summary>The stream's open signals (the <paramref name="live"/> ones, the <paramref name="shadow"/> ones, or both) that the candle resolves.</summary>
    private List<(OpenSignal Open, SignalOutcome Outcome)>? CollectResolved(StreamState stream, in Candle candle, bool live, bool shadow)
    {
        List<(OpenSignal Open, SignalOutcome Outcome)>? resolved = null;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (stream.Gate)
        {
            foreach (var open in stream.Open)
            {
                if ((open.IsShadow ? shadow : live) && OutcomeRules.TryResolve(open.Signal, open.IsShadow, candle, now, open.Exit, out var outcome))
                {
                    (resolved ??= []).Add((open, outcome!));
                }
            }
        }

        return resolved;
    }

    private async ValueTask ResolveThenDecideAsync(
        StreamState stream, List<(OpenSignal Open, SignalOutcome Outcome)> resolved, ClosedCandleResult result, CancellationToken cancellationToken)
    {
        await ResolveAsync(stream, resolved, cancellationToken).ConfigureAwait(false);
        if (HasDecision(result))
        {
            await DecideAsync(stream, result, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask ResolveAsync(StreamState stream, List<(OpenSignal Open, SignalOutcome Outcome)> resolved, CancellationToken cancellationToken)
    {
        foreach (var (open, resolvedOutcome) in resolved)
        {
            // Emitted before it leaves the open set: if the output fails (shutdown), the signal is still open and
            // resolves again on the next candle instead of being lost.
            var outcome = await EmitOutcomeAsync(resolvedOutcome, cancellationToken).ConfigureAwait(false);
            lock (stream.Gate)
            {
                var i = stream.IndexOf(open.Signal.Id);
                if (i >= 0)
                {
                    stream.RemoveAt(i);
                }
            }

            _journal.Apply(outcome);
            _metrics.OutcomeResolved(outcome);
            Log.OutcomeResolved(_logger, outcome.SignalId, outcome.IsShadow, outcome.Outcome, outcome.RMultiple, outcome.Reason);
        }
    }

    private ValueTask DecideAsync(StreamState stream, ClosedCandleResult result, CancellationToken cancellationToken)
    {
        var (live, shadows) = Partition(stream, result, result.Predictions, liveAllowed: true);
        if (live == 0 && shadows == 0 && !result.ShadowPredictionsFollow)
        {
            return default;
        }

        var symbol = SymbolOf(result.Update.Candle.Symbol);
        // A zero timeout never waits, so there is nothing to cancel: a cancelled token must not fail the fast path.
        if (!symbol.Gate.Wait(0, CancellationToken.None))
        {
            return DecideAfterWaitAsync(stream, symbol, result, live, shadows, cancellationToken);
        }

        var candidate = DecideLiveHoldingGate(stream, symbol, result, live, keep: shadows > 0 || result.ShadowPredictionsFollow);
        if (candidate is null && shadows == 0)
        {
            symbol.Gate.Release();
            return default;
        }

        return EmitHoldingGateAsync(stream, symbol, result, candidate, shadows, cancellationToken);
    }

    private async ValueTask DecideAfterWaitAsync(
        StreamState stream, SymbolState symbol, ClosedCandleResult result, int live, int shadows, CancellationToken cancellationToken)
    {
        await symbol.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var candidate = DecideLiveHoldingGate(stream, symbol, result, live, keep: shadows > 0 || result.ShadowPredictionsFollow);
        if (candidate is null && shadows == 0)
        {
            symbol.Gate.Release();
            return;
        }

        await EmitHoldingGateAsync(stream, symbol, result, candidate, shadows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The live models plus the TradingView votes that count for this candle (a vote alone, without a model's prediction,
    /// decides nothing). Read under the symbol's gate, which an alert holds from reading the stream's market time to
    /// adding its vote: so a vote counts for exactly the candles its stored market time says, live as in a replay.
    /// </summary>
    private static int WithVotes(StreamState stream, ClosedCandleResult result, int live) =>
        live > 0 && stream.VoteCount > 0 ? live + CollectVotes(stream, result.Update.Candle.CloseTime, live) : live;

    /// <summary>
    /// The live decision, and when <paramref name="keep"/>, what the candle's shadow decisions will read from it; the
    /// caller holds the symbol's gate, which is released here if the decision throws.
    /// </summary>
    private Signal? DecideLiveHoldingGate(StreamState stream, SymbolState symbol, ClosedCandleResult result, int live, bool keep)
    {
        try
        {
            live = WithVotes(stream, result, live);
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var signal = live > 0 ? DecideLive(stream, symbol, result, live, now) : null;
            if (keep)
            {
                stream.KeepForShadows(symbol.Views, result.Update.Candle.CloseTime, live, now, _rules.FusionFamilies.Length);
            }

            return signal;
        }
        catch
        {
            // Not swallowed: rethrown after freeing the gate, or every later candle of the symbol would wait forever.
            symbol.Gate.Release();
            throw;
        }
    }

    /// <summary>
    /// Publishes the live candidate and decides and journals the shadows that came with it; releases the symbol's gate
    /// at the end.
    /// </summary>
    private async ValueTask EmitHoldingGateAsync(
        StreamState stream, SymbolState symbol, ClosedCandleResult result, Signal? candidate, int shadows, CancellationToken cancellationToken)
    {
        try
        {
            if (candidate is not null)
            {
                await PublishAsync(stream, symbol, candidate, SignalIds.ForCandle(result.Update.Candle), cancellationToken).ConfigureAwait(false);
            }

            if (shadows > 0)
            {
                await DecideShadowsAsync(stream, result, shadows, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            symbol.Gate.Release();
        }
    }

    /// <summary>The would-be signal of each shadow prediction in <see cref="StreamState.Shadows"/>, against the kept live decision.</summary>
    private async ValueTask DecideShadowsAsync(StreamState stream, ClosedCandleResult result, int shadows, CancellationToken cancellationToken)
    {
        var candle = result.Update.Candle;
        for (var i = 0; i < shadows; i++)
        {
            var shadow = stream.Shadows[i];
            var candidate = DecideShadow(stream, result, shadow);
            if (candidate is not null)
            {
                await PublishShadowAsync(stream, candidate, shadow.Model, SignalIds.ForShadow(candle, shadow.Model), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Valid live predictions into <see cref="StreamState.Live"/> (when <paramref name="liveAllowed"/>; otherwise each is
    /// a broken hand-over, logged and skipped), valid shadow ones into <see cref="StreamState.Shadows"/>.
    /// </summary>
    private (int Live, int Shadows) Partition(StreamState stream, ClosedCandleResult result, IReadOnlyList<ModelPrediction> predictions, bool liveAllowed)
    {
        stream.EnsureCapacity(predictions.Count);
        int live = 0, shadows = 0;
        for (var i = 0; i < predictions.Count; i++)
        {
            var p = predictions[i];
            if (!liveAllowed && !p.IsShadow)
            {
                Log.ShadowPredictionsDropped(_logger, result.Update.Candle.Stream.ToString(), result.Update.Candle.OpenTime,
                    $"live model {p.Model}'s prediction came with the shadow ones, after the candle was decided");
                continue;
            }

            var problem = PredictionProblem(p);
            if (problem is not null)
            {
                if (_warnedModels.TryAdd(p.Model ?? string.Empty, 0))
                {
                    Log.InvalidPrediction(_logger, p.Model ?? "(unnamed)", result.Update.Candle.Stream.ToString(), problem);
                }

                continue;
            }

            if (p.IsShadow)
            {
                stream.Shadows[shadows++] = p;
            }
            else
            {
                stream.Live[live++] = p;
            }
        }

        return (live, shadows);
    }

    private Signal? DecideLive(StreamState stream, SymbolState symbol, ClosedCandleResult result, int live, long now)
    {
        var candle = result.Update.Candle;
        var models = stream.Live.AsSpan(0, live);
        var view = symbol.ViewOf(candle.Timeframe);
        view.Set(models, candle.CloseTime, _rules);
        var decision = _decider.Decide(models, result, symbol.Views, view, now, out var signal);
        if (decision != DecisionResult.Signal)
        {
            Log.NoSignal(_logger, candle.Symbol, candle.Timeframe.ToName(), candle.OpenTime, decision);
        }

        return signal;
    }

    /// <summary>
    /// The decision with the shadow model in place of the live model(s) of its family (added when its family has no
    /// live model), as of the kept live decision: its live predictions, the other timeframes' fusion views, its time.
    /// </summary>
    private Signal? DecideShadow(StreamState stream, ClosedCandleResult result, ModelPrediction shadow)
    {
        var kept = stream.Kept!;
        var candle = result.Update.Candle;
        var count = 0;
        for (var i = 0; i < kept.Live; i++)
        {
            if (!string.Equals(stream.Live[i].Family, shadow.Family, StringComparison.OrdinalIgnoreCase))
            {
                stream.Substituted[count++] = stream.Live[i];
            }
        }

        stream.Substituted[count++] = shadow;
        var models = stream.Substituted.AsSpan(0, count);
        kept.ShadowView.Set(models, candle.CloseTime, _rules);
        _ = _decider.Decide(models, result, kept.Views, kept.ShadowView, kept.DecidedAt, out var signal);
        return signal;
    }

    /// <summary>
    /// The one place a published signal gets its seq (model signals and TradingView alerts alike); the caller holds the
    /// symbol's gate. Returns the seq.
    /// </summary>
    private async ValueTask<long> PublishAsync(StreamState stream, SymbolState symbol, Signal candidate, string id, CancellationToken cancellationToken)
    {
        if (symbol.LastSeq < 0)
        {
            var last = await _sequence.GetLastSeqAsync(candidate.Symbol, cancellationToken).ConfigureAwait(false);
            symbol.LastSeq = Math.Max(0, last);
            Log.SequenceLoaded(_logger, candidate.Symbol, symbol.LastSeq);
        }

        var signal = candidate with { Id = id, Seq = symbol.LastSeq + 1 };

        // The seq is taken only once the outputs have the signal: a failed hand-off leaves no hole.
        await _outputs.OnSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        symbol.LastSeq = signal.Seq;
        lock (stream.Gate)
        {
            stream.Add(new OpenSignal(signal, IsShadow: false));
        }

        _journal.Track(signal, isShadow: false);
        _metrics.SignalPublished(signal);
        Log.SignalPublished(_logger, signal.Id, signal.Seq, signal.Direction, signal.Confidence, signal.FusionScore, signal.Entry, signal.Target, signal.Stop);
        return signal.Seq;
    }

    /// <summary>
    /// The one place a published outcome gets its outcomeSeq. The symbol's timeframes resolve concurrently, so the
    /// numbering and the hand-off happen under the symbol's outcome gate: outcomeSeqs reach the writer in order, without
    /// holes. Shadow outcomes are never published and keep 0.
    /// </summary>
    private async ValueTask<SignalOutcome> EmitOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        if (outcome.IsShadow)
        {
            await _outputs.OnOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
            return outcome;
        }

        var symbol = SymbolOf(outcome.Symbol);
        await symbol.OutcomeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (symbol.LastOutcomeSeq < 0)
            {
                symbol.LastOutcomeSeq = Math.Max(0, await _sequence.GetLastOutcomeSeqAsync(outcome.Symbol, cancellationToken).ConfigureAwait(false));
            }

            var numbered = outcome with { OutcomeSeq = symbol.LastOutcomeSeq + 1 };

            // Taken only once the outputs have it, as a signal's seq: a failed hand-off leaves no hole.
            await _outputs.OnOutcomeAsync(numbered, cancellationToken).ConfigureAwait(false);
            symbol.LastOutcomeSeq = numbered.OutcomeSeq;
            return numbered;
        }
        finally
        {
            symbol.OutcomeGate.Release();
        }
    }

    /// <summary>Shadow signals carry seq 0: they are never published, so they must not consume the public sequence.</summary>
    private async ValueTask PublishShadowAsync(StreamState stream, Signal candidate, string model, string id, CancellationToken cancellationToken)
    {
        var signal = candidate with { Id = id, Seq = 0 };
        await _outputs.OnShadowSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        lock (stream.Gate)
        {
            stream.Add(new OpenSignal(signal, IsShadow: true));
        }

        _journal.Track(signal, isShadow: true);
        _metrics.ShadowSignal(model);
        Log.ShadowSignal(_logger, signal.Id, model, signal.Direction, signal.Confidence);
    }

    /// <summary>What is wrong with a prediction, or null when it is usable.</summary>
    internal static string? PredictionProblem(ModelPrediction p)
    {
        if (string.IsNullOrEmpty(p.Model) || string.IsNullOrEmpty(p.Family))
        {
            return "model name or family is empty";
        }

        if (!float.IsFinite(p.Down) || !float.IsFinite(p.Flat) || !float.IsFinite(p.Up))
        {
            return $"probabilities are not finite (down {p.Down}, flat {p.Flat}, up {p.Up})";
        }

        if (p.Down < 0 || p.Flat < 0 || p.Up < 0 || Math.Abs((double)p.Down + p.Flat + p.Up - 1) > 0.01)
        {
            return $"probabilities must be 0 or more and sum to 1 (down {p.Down}, flat {p.Flat}, up {p.Up})";
        }

        if (!double.IsFinite(p.Weight) || p.Weight < 0)
        {
            return $"weight {p.Weight} is not a finite number of 0 or more";
        }

        return null;
    }
}
