using System.Globalization;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>
/// TradingView alerts (docs/signals.md, "TradingView alerts"). An alert is handled under its symbol's gate, the gate the
/// models' signals hold while their seq is assigned, so an alert's signal takes the next seq through the same
/// <see cref="PublishAsync"/> and reaches the outputs in seq order with the models' signals.
/// </summary>
internal sealed partial class SignalStage
{
    /// <summary>
    /// Standing votes kept per stream. Live there is one per source (a newer alert replaces the older from the next
    /// candle); the bound matters for a replay, which adds votes as it reads them, ahead of the candles they apply to.
    /// </summary>
    internal const int MaxVotesPerStream = 256;

    public async ValueTask<AlertResult> SubmitAsync(AlertSubmission alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var stream = _streams.GetOrAdd(new StreamKey(alert.Symbol, alert.Timeframe), static _ => new StreamState());
        var symbol = SymbolOf(alert.Symbol);
        await symbol.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var tf = alert.Timeframe.ToName();
            if (stream.Market is not { } market || market.Close <= 0)
            {
                return new AlertResult.NotReady(
                    $"No closed {tf} candle of {alert.Symbol} has reached the engine yet (it is starting); send the alert again in a minute.");
            }

            var deviation = Math.Abs((double)((alert.Price - market.Close) / market.Close));
            if (deviation > alert.Policy.MaxPriceDeviation)
            {
                return new AlertResult.Rejected("price", string.Create(CultureInfo.InvariantCulture,
                    $"price {alert.Price} is {deviation:P1} away from the last {tf} close of {alert.Symbol} ({market.Close}); this source accepts at most {alert.Policy.MaxPriceDeviation:P1} (MaxPriceDeviation). Send {{{{close}}}} of the same symbol."));
            }

            AlertResult result;
            var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (alert.Action == AlertAction.Exit)
            {
                await _outputs.OnAlertAsync(Event(alert, market, signal: null, vote: null), committed, cancellationToken).ConfigureAwait(false);
                var closing = ApplyExit(stream, alert.Source, alert.Mode == AlertMode.Vote, alert.Price, market.CloseTime, alert.ReceivedAt);
                result = new AlertResult.Exited(closing);
            }
            else
            {
                var isVote = alert.Mode == AlertMode.Vote;
                var rejected = TryBuildSignal(alert, market, symbol, isShadow: isVote, out var candidate);
                if (rejected is not null)
                {
                    return rejected;
                }

                if (!isVote)
                {
                    await _outputs.OnAlertAsync(Event(alert, market, candidate, vote: null), committed, cancellationToken).ConfigureAwait(false);
                    var seq = await PublishAsync(stream, symbol, candidate!, candidate!.Id, cancellationToken).ConfigureAwait(false);
                    result = new AlertResult.Published(candidate.Id, seq, candidate.Target, candidate.Stop);
                }
                else
                {
                    var vote = new AlertVote(
                        VoteWeight(alert),
                        candidate!.Probabilities,
                        market.CloseTime,
                        market.CloseTime + (long)alert.Policy.VoteExpiry.TotalMilliseconds);
                    await _outputs.OnAlertAsync(Event(alert, market, candidate, vote), committed, cancellationToken).ConfigureAwait(false);
                    AddVote(stream, alert.Source, alert.Strategy, vote);
                    await PublishShadowAsync(stream, candidate, alert.Source, candidate.Id, cancellationToken).ConfigureAwait(false);
                    result = new AlertResult.Voted(candidate.Id, vote.Weight, vote.ExpiresAt);
                }
            }

            Log.AlertAccepted(_logger, alert.Source, alert.Id, alert.RawAction, alert.Symbol, tf, alert.Price);
            return result with { Committed = committed.Task };
        }
        finally
        {
            symbol.Gate.Release();
        }
    }

    public void Restore(TradingViewAlertReceived alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var stream = _streams.GetOrAdd(new StreamKey(alert.Symbol, alert.Timeframe), static _ => new StreamState());
        if (IsExit(alert))
        {
            ApplyExit(stream, alert.Source, IsVoteMode(alert), alert.Price, alert.MarketTime, alert.ReceivedAt);
        }
        else if (alert.Vote is { } vote)
        {
            AddVote(stream, alert.Source, alert.Strategy, vote);
        }
    }

    /// <remarks>
    /// A replay reads ahead of the engine, so the alert waits in its stream until the first candle that closes after its
    /// market time comes up, and is applied then, before that candle is decided: the point where it arrived live. Its
    /// signal then takes the seq it took live (between the same candles' signals), and an exit finds the signals it
    /// closed live. An alert after its stream's last replayed candle is not applied (nothing would score it).
    /// </remarks>
    public ValueTask ReplayAsync(TradingViewAlertReceived alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var stream = _streams.GetOrAdd(new StreamKey(alert.Symbol, alert.Timeframe), static _ => new StreamState());
        stream.AddReplayed(alert);
        return default;
    }

    /// <summary>Applies replayed alerts that are due at this candle (in stored order), then handles the candle.</summary>
    private async ValueTask ApplyReplayedThenHandleAsync(StreamState stream, List<TradingViewAlertReceived> due, ClosedCandleResult result, CancellationToken cancellationToken)
    {
        foreach (var alert in due)
        {
            await ApplyReplayedAsync(stream, alert, cancellationToken).ConfigureAwait(false);
        }

        await OnClosedCandleAsync(result, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ApplyReplayedAsync(StreamState stream, TradingViewAlertReceived alert, CancellationToken cancellationToken)
    {
        var symbol = SymbolOf(alert.Symbol);
        await symbol.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsExit(alert))
            {
                ApplyExit(stream, alert.Source, IsVoteMode(alert), alert.Price, alert.MarketTime, alert.ReceivedAt);
            }
            else if (alert.Vote is { } vote)
            {
                AddVote(stream, alert.Source, alert.Strategy, vote);
                if (alert.Signal is { } wouldBe)
                {
                    await PublishShadowAsync(stream, wouldBe, alert.Source, wouldBe.Id, cancellationToken).ConfigureAwait(false);
                }
            }
            else if (alert.Signal is { } signal)
            {
                await PublishAsync(stream, symbol, signal, signal.Id, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            symbol.Gate.Release();
        }
    }

    private SymbolState SymbolOf(string symbol) =>
        _symbols.GetOrAdd(symbol, static (_, families) => new SymbolState(families), _rules.FusionFamilies.Length);

    private static bool IsExit(TradingViewAlertReceived alert) => string.Equals(alert.Action, "exit", StringComparison.Ordinal);

    private static bool IsVoteMode(TradingViewAlertReceived alert) => string.Equals(alert.Mode, "vote", StringComparison.Ordinal);

    /// <summary>
    /// The alert's signal (published in signal mode, journaled as a would-be signal in vote mode), or the rejection.
    /// Entry is the alert's price; target and stop are the alert's, or else from the ATR rules at the source's confidence.
    /// </summary>
    private AlertResult.Rejected? TryBuildSignal(AlertSubmission alert, MarketSnapshot market, SymbolState symbol, bool isShadow, out Signal? signal)
    {
        signal = null;
        var direction = alert.Action == AlertAction.Long ? SignalDirection.Long : SignalDirection.Short;
        var isLong = direction == SignalDirection.Long;
        var tf = alert.Timeframe.ToName();
        var confidence = alert.Policy.Confidence;
        var entry = alert.Price;
        decimal target, stop;
        double atrPercent = 0;
        if (alert.Target is { } t && alert.Stop is { } s)
        {
            (target, stop) = (t, s);
        }
        else
        {
            var verdict = RiskLevels.TryCompute(direction, entry, market.Atr, confidence, _rules, out var levels);
            if (verdict is RiskVerdict.NoVolatility or RiskVerdict.LevelsCollapsed)
            {
                var missing = alert.Target is null ? "target" : "stop";
                return new AlertResult.Rejected(missing, string.Create(CultureInfo.InvariantCulture,
                    $"{missing} is missing and cannot be set from ATR: {alert.Symbol} {tf} has no usable ATR yet (ATR {market.Atr:G4} at close {market.Close}; the stream is warming up). Send both 'stop' and 'target' with the alert."));
            }

            // The models' R:R floor is not applied: the strategy decided to trade, the journal scores how that went.
            target = alert.Target ?? levels.Target;
            stop = alert.Stop ?? levels.Stop;
            atrPercent = levels.AtrPercent;
        }

        if (isLong ? !(target > entry) : !(target < entry && target > 0))
        {
            return new AlertResult.Rejected("target", $"target {target} must be {(isLong ? "above" : "below")} the entry price {entry} for a {(isLong ? "long" : "short")} ({alert.RawAction}).");
        }

        if (isLong ? !(stop < entry && stop > 0) : !(stop > entry))
        {
            return new AlertResult.Rejected("stop", $"stop {stop} must be {(isLong ? "below" : "above")} the entry price {entry}{(isLong ? " and above 0" : "")} for a {(isLong ? "long" : "short")} ({alert.RawAction}).");
        }

        var riskReward = Math.Round((double)(Math.Abs(target - entry) / Math.Abs(entry - stop)), 4, MidpointRounding.ToZero);
        var c = confidence / 100.0;
        var probabilities = isLong
            ? new ClassProbabilities((1 - c) / 2, (1 - c) / 2, c)
            : new ClassProbabilities(c, (1 - c) / 2, (1 - c) / 2);
        var wanted = isLong ? VoteDirection.Long : VoteDirection.Short;
        var candleOpen = market.CloseTime + 1;
        var candleClose = alert.Timeframe.CloseTimeOf(candleOpen);
        var fusion = FusionScore.Compute(wanted, symbol.Views, alert.Timeframe, symbol.ViewOf(alert.Timeframe), market.CloseTime, _rules, out _);
        var side = isLong ? "long" : "short";
        var vote = new ModelVote(alert.Source, alert.Strategy ?? "alert", SignalSources.TradingViewFamily, side, 1.0, probabilities) { IsShadow = isShadow };
        signal = new Signal
        {
            Id = AlertSignalId(alert),
            Seq = 0,
            Symbol = alert.Symbol,
            Timeframe = alert.Timeframe,
            Direction = direction,
            Confidence = confidence,
            Probabilities = probabilities,
            Entry = entry,
            Target = target,
            Stop = stop,
            RiskReward = riskReward,
            FusionScore = fusion,
            Models = [vote],
            Rationale = AlertRationale(alert, target, stop, riskReward, atrPercent, fusion, side),
            CandleOpenTime = candleOpen,
            CandleCloseTime = candleClose,
            CreatedAt = _time.GetUtcNow().ToUnixTimeMilliseconds(),
            ExpiresAt = candleClose + _rules.ExpiryMilliseconds(alert.Timeframe),
            ExchangeTime = alert.ReceivedAt,
            ReceivedAt = alert.ReceivedAt,
            Source = alert.Source,
        };
        return null;
    }

    /// <summary><c>BTCUSDT-15m-tradingview-main-{alert id}</c>: unique per alert, and readable as whose it is.</summary>
    internal static string AlertSignalId(AlertSubmission alert) =>
        $"{alert.Symbol}-{alert.Timeframe.ToName()}-{alert.Source.Replace(':', '-')}-{alert.Id:N}";

    private static string[] AlertRationale(
        AlertSubmission alert, decimal target, decimal stop, double riskReward, double atrPercent, double fusion, string side)
    {
        var ic = CultureInfo.InvariantCulture;
        var name = alert.Source.StartsWith(SignalSources.TradingViewPrefix, StringComparison.Ordinal)
            ? alert.Source[SignalSources.TradingViewPrefix.Length..]
            : alert.Source;
        var strategy = alert.Strategy is null ? string.Empty : $" ({alert.Strategy})";
        var lines = new List<string>(4)
        {
            $"TradingView alert from {name}{strategy}: {alert.RawAction} {alert.Symbol} at {alert.Price} on {alert.Timeframe.ToName()}",
            string.Format(
                ic,
                "Target {0} {1}, stop {2} {3} (R:R {4:0.00})",
                target,
                alert.Target is null ? string.Format(ic, "from ATR {0:0.0#}%", atrPercent * 100) : "from the alert",
                stop,
                alert.Stop is null ? string.Format(ic, "from ATR {0:0.0#}%", atrPercent * 100) : "from the alert",
                riskReward),
            string.Format(ic, "Models' fusion score for the {0}: {1:0}", side, fusion),
        };
        if (alert.Comment is not null)
        {
            lines.Add("Comment: " + alert.Comment);
        }

        return lines.ToArray();
    }

    /// <summary>
    /// The configured weight, or, with learned weights, the configured weight × the source's profit factor (clamped)
    /// once its own alerts (its would-be signals, the shadow row) have at least <see cref="AlertPolicy.LearnAfter"/> resolved.
    /// </summary>
    private double VoteWeight(AlertSubmission alert)
    {
        var policy = alert.Policy;
        if (policy.LearnWeight
            && _journal.TryGetRecord(alert.Source, isShadow: true, out var resolved, out var profitFactor)
            && resolved >= policy.LearnAfter)
        {
            return Math.Round(policy.Weight * Math.Clamp(profitFactor, policy.MinWeightFactor, policy.MaxWeightFactor), 6, MidpointRounding.AwayFromZero);
        }

        return policy.Weight;
    }

    private static TradingViewAlertReceived Event(AlertSubmission alert, MarketSnapshot market, Signal? signal, AlertVote? vote) =>
        alert.Received with { MarketTime = market.CloseTime, Signal = signal, Vote = vote };

    private static void AddVote(StreamState stream, string source, string? strategy, AlertVote vote)
    {
        var p = vote.Probabilities;
        var prediction = new ModelPrediction(
            source, strategy ?? "alert", SignalSources.TradingViewFamily, IsShadow: false, vote.Weight, (float)p.Down, (float)p.Flat, (float)p.Up);
        lock (stream.Gate)
        {
            stream.AddVote(new StandingVote(source, prediction, vote.ValidAfter, vote.ExpiresAt));
        }
    }

    /// <summary>
    /// Marks the source's open signals of the stream issued by <paramref name="issuedBefore"/> to close at
    /// <paramref name="price"/> on the next candle closing after <paramref name="marketTime"/>; in vote mode also
    /// withdraws its vote from then on. Returns how many signals will close.
    /// </summary>
    private static int ApplyExit(StreamState stream, string source, bool withdrawVote, decimal price, long marketTime, long issuedBefore)
    {
        var closing = 0;
        lock (stream.Gate)
        {
            for (var i = 0; i < stream.Open.Count; i++)
            {
                var open = stream.Open[i];
                if (open.Exit is null
                    && string.Equals(open.Signal.Source, source, StringComparison.Ordinal)
                    && open.Signal.CreatedAt <= issuedBefore)
                {
                    stream.SetExit(i, new ExitMark(price, marketTime));
                    closing++;
                }
            }

            if (withdrawVote)
            {
                foreach (var vote in stream.Votes)
                {
                    if (string.Equals(vote.Source, source, StringComparison.Ordinal))
                    {
                        stream.AddVote(new StandingVote(source, null, marketTime, marketTime));
                        break;
                    }
                }
            }
        }

        return closing;
    }

    /// <summary>
    /// Copies the votes that count for the candle closing at <paramref name="closeTime"/> into the stream's live buffer
    /// after its <paramref name="offset"/> model predictions, and drops the ones that can never count again. Per source
    /// the newest entry valid before this close counts (if not expired or withdrawn); older entries are superseded.
    /// Candles of a stream come in close-time order, so what is dropped here stays dropped rightly.
    /// </summary>
    private static int CollectVotes(StreamState stream, long closeTime, int offset)
    {
        lock (stream.Gate)
        {
            var votes = stream.Votes;
            Span<bool> dead = votes.Count <= MaxVotesPerStream ? stackalloc bool[MaxVotesPerStream] : new bool[votes.Count];
            var count = 0;
            stream.EnsureCapacity(offset + votes.Count);
            for (var i = 0; i < votes.Count; i++)
            {
                var vote = votes[i];
                if (vote.ValidAfter >= closeTime)
                {
                    continue; // arrived after this candle's market time: it counts from the next one
                }

                var superseded = false;
                for (var j = i + 1; j < votes.Count && !superseded; j++)
                {
                    superseded = votes[j].ValidAfter < closeTime && string.Equals(votes[j].Source, vote.Source, StringComparison.Ordinal);
                }

                if (superseded || vote.Prediction is null || vote.ExpiresAt < closeTime)
                {
                    dead[i] = true;
                    continue;
                }

                stream.Live[offset + count++] = vote.Prediction;
            }

            for (var i = votes.Count - 1; i >= 0; i--)
            {
                if (dead[i])
                {
                    votes.RemoveAt(i);
                }
            }

            stream.VotesChanged();
            return count;
        }
    }
}
