using SignalStream.Contracts;
using SignalStream.Engine.Journal.Internal;

namespace SignalStream.Engine.Journal;

/// <summary>
/// Live journal statistics per (model, symbol, timeframe) with roll-ups, live and shadow side by side.
/// </summary>
/// <remarks>
/// Built only from <see cref="Track"/> (a signal was issued) and <see cref="Apply"/> (it resolved), so the event store
/// can rebuild it at start by replaying stored signals and outcomes in order. A published signal of the models
/// (<see cref="Signal.Source"/> <c>ensemble</c>) counts for the <see cref="EnsembleModel"/> row and for each of its
/// models; a TradingView alert's signal counts only for its source's row (<c>tradingview:{name}</c>, its one entry in
/// <see cref="Signal.Models"/>), never for the ensemble's. A shadow would-be signal counts only for its shadow
/// model(s) (<see cref="ModelVote.IsShadow"/>); a vote alert's own would-be signal is one. A vote that took part in an
/// ensemble signal is not scored by it: its record is its own alerts. Each outcome updates four rows per model:
/// (symbol, timeframe), (symbol, *), (*, timeframe) and (*, *). Thread-safe.
/// </remarks>
public sealed partial class SignalJournal : IPerformanceReport
{
    /// <summary>The model name of the row for published signals as a whole.</summary>
    public const string EnsembleModel = "ensemble";

    /// <summary>The roll-up marker in <see cref="PerformanceGroup.Symbol"/> and <see cref="PerformanceGroup.Timeframe"/>.</summary>
    public const string All = "*";

    private readonly Lock _gate = new();
    private readonly Dictionary<GroupKey, JournalGroup> _groups = [];
    private readonly Dictionary<string, OpenSignal> _open = new(StringComparer.Ordinal);
    private readonly ResolvedFirst _resolvedFirst = new();
    private readonly TimeProvider _time;
    private int _openLive;

    public SignalJournal(TimeProvider time)
    {
        _time = time;
    }

    /// <summary>Open published signals (not shadow).</summary>
    public int OpenLiveSignals
    {
        get
        {
            lock (_gate)
            {
                return _openLive;
            }
        }
    }

    /// <summary>
    /// Counts an issued signal as open. Idempotent per <see cref="Signal.Id"/>; a signal whose outcome was applied
    /// already (a store's global order can put an outcome first when one group commit holds both) is not opened.
    /// </summary>
    public void Track(Signal signal, bool isShadow)
    {
        ArgumentNullException.ThrowIfNull(signal);
        lock (_gate)
        {
            if (_open.ContainsKey(signal.Id) || _resolvedFirst.Remove(signal.Id))
            {
                return;
            }

            var keys = KeysOf(signal.Models, isShadow, signal.Source, signal.Symbol, signal.Timeframe);
            foreach (var key in keys)
            {
                GroupOf(key).Open++;
            }

            _open.Add(signal.Id, new OpenSignal(keys, isShadow));
            if (!isShadow)
            {
                _openLive++;
            }
        }
    }

    /// <summary>
    /// Scores a resolution. An outcome whose signal was never tracked still counts (rebuild from outcomes alone), and
    /// that signal, if it comes later, is not counted open.
    /// </summary>
    public void Apply(SignalOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var ensemble = EnsemblePrediction(outcome.Models, outcome.Direction);
        lock (_gate)
        {
            if (_open.Remove(outcome.SignalId, out var open))
            {
                foreach (var key in open.Keys)
                {
                    GroupOf(key).Open--;
                }

                if (!outcome.IsShadow)
                {
                    _openLive--;
                }
            }
            else
            {
                _resolvedFirst.Add(outcome.SignalId);
            }

            foreach (var key in KeysOf(outcome.Models, outcome.IsShadow, outcome.Source, outcome.Symbol, outcome.Timeframe))
            {
                var predicted = key.Model == EnsembleModel && !key.IsShadow ? ensemble : ModelPrediction(outcome, key.Model);
                GroupOf(key).Add(outcome.Outcome, outcome.RMultiple, predicted, outcome.ResolvedCandleOpenTime);
            }
        }
    }

    /// <inheritdoc/>
    public PerformanceReport GetReport()
    {
        List<PerformanceGroup> rows;
        lock (_gate)
        {
            rows = new List<PerformanceGroup>(_groups.Count);
            foreach (var (key, group) in _groups)
            {
                rows.Add(group.ToReport(key));
            }
        }

        rows.Sort(static (a, b) =>
        {
            var c = a.IsShadow.CompareTo(b.IsShadow);
            c = c != 0 ? c : (a.Model == EnsembleModel).CompareTo(b.Model == EnsembleModel) * -1;
            c = c != 0 ? c : string.CompareOrdinal(a.Model, b.Model);
            c = c != 0 ? c : string.CompareOrdinal(a.Symbol, b.Symbol);
            return c != 0 ? c : string.CompareOrdinal(a.Timeframe, b.Timeframe);
        });
        return new PerformanceReport(_time.GetUtcNow().ToUnixTimeMilliseconds(), rows);
    }

    /// <summary>The (*, *) record of <paramref name="model"/>: resolved signals and profit factor; false when it has none.</summary>
    internal bool TryGetRecord(string model, bool isShadow, out int resolved, out double profitFactor)
    {
        lock (_gate)
        {
            if (_groups.TryGetValue(new GroupKey(model, isShadow, All, All), out var group) && group.Resolved > 0)
            {
                resolved = group.Resolved;
                profitFactor = group.ProfitFactor;
                return true;
            }
        }

        resolved = 0;
        profitFactor = 0;
        return false;
    }

    /// <summary>Win rate of every model over all symbols and timeframes (the (*, *) rows), for the metrics gauge.</summary>
    internal void CollectModelWinRates(List<(string Model, bool IsShadow, double WinRate)> into)
    {
        lock (_gate)
        {
            foreach (var (key, group) in _groups)
            {
                if (key.Symbol == All && key.Timeframe == All && group.Resolved > 0)
                {
                    into.Add((key.Model, key.IsShadow, group.WinRate));
                }
            }
        }
    }

    private JournalGroup GroupOf(GroupKey key)
    {
        if (!_groups.TryGetValue(key, out var group))
        {
            group = new JournalGroup(keepsEquity: key.Symbol == All && key.Timeframe == All);
            _groups.Add(key, group);
        }

        return group;
    }

    private static GroupKey[] KeysOf(IReadOnlyList<ModelVote> models, bool isShadow, string? source, string symbol, Timeframe timeframe)
    {
        var names = new List<string>(models.Count + 1);
        var ensemble = SignalSources.IsEnsemble(source);
        if (!isShadow && ensemble)
        {
            names.Add(EnsembleModel);
        }

        foreach (var vote in models)
        {
            // A shadow signal also carries the live models of the other family; their record is their own live rows.
            // A TradingView vote inside an ensemble signal (or its would-be signal) is scored by its own alerts only.
            if (vote.IsShadow == isShadow && !names.Contains(vote.Name) && (!IsAlertVote(vote) || !ensemble))
            {
                names.Add(vote.Name);
            }
        }

        var tf = timeframe.ToName();
        var keys = new GroupKey[names.Count * 4];
        for (var i = 0; i < names.Count; i++)
        {
            keys[(i * 4) + 0] = new GroupKey(names[i], isShadow, symbol, tf);
            keys[(i * 4) + 1] = new GroupKey(names[i], isShadow, symbol, All);
            keys[(i * 4) + 2] = new GroupKey(names[i], isShadow, All, tf);
            keys[(i * 4) + 3] = new GroupKey(names[i], isShadow, All, All);
        }

        return keys;
    }

    /// <summary>True for a TradingView alert's entry in a signal's models.</summary>
    internal static bool IsAlertVote(ModelVote vote) =>
        string.Equals(vote.Family, SignalSources.TradingViewFamily, StringComparison.Ordinal);

    private static double DirectionProbability(ClassProbabilities p, SignalDirection direction) =>
        direction == SignalDirection.Long ? p.Up : p.Down;

    private static double ModelPrediction(SignalOutcome outcome, string model)
    {
        foreach (var vote in outcome.Models)
        {
            if (vote.Name == model)
            {
                return DirectionProbability(vote.Probabilities, outcome.Direction);
            }
        }

        return 0;
    }

    /// <summary>The ensemble's P(direction), recomputed from the votes' weights so outcomes alone suffice.</summary>
    private static double EnsemblePrediction(IReadOnlyList<ModelVote> models, SignalDirection direction)
    {
        double weighted = 0, total = 0;
        foreach (var vote in models)
        {
            var w = vote.Weight > 0 ? vote.Weight : 0;
            weighted += w * DirectionProbability(vote.Probabilities, direction);
            total += w;
        }

        if (total > 0)
        {
            return weighted / total;
        }

        if (models.Count == 0)
        {
            return 0;
        }

        foreach (var vote in models)
        {
            weighted += DirectionProbability(vote.Probabilities, direction);
        }

        return weighted / models.Count;
    }
}
