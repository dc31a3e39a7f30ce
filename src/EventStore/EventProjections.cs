using SignalStream.Contracts;
using SignalStream.Engine.Events;

namespace SignalStream.EventStore;

/// <summary>
/// Read models kept by the projector from the global event order: the latest signal per symbol and timeframe, outcome
/// statistics per model (the journal's input), and event counts by type. Updated only past the high-water mark, so
/// they never miss an event of a slow transaction.
/// </summary>
public sealed class EventProjections
{
    private readonly Lock _lock = new();
    private readonly Dictionary<StreamKey, Signal> _latest = [];
    private readonly Dictionary<string, OutcomeStatistics> _outcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private long _position;

    /// <summary>The global position applied so far.</summary>
    public long Position
    {
        get
        {
            lock (_lock)
            {
                return _position;
            }
        }
    }

    /// <summary>The newest live signal of every (symbol, timeframe).</summary>
    public IReadOnlyDictionary<StreamKey, Signal> LatestSignals()
    {
        lock (_lock)
        {
            return new Dictionary<StreamKey, Signal>(_latest);
        }
    }

    /// <summary>Win/loss/expired counts and summed R per model (live and shadow separately: shadow names end in " (shadow)").</summary>
    public IReadOnlyDictionary<string, OutcomeStatistics> OutcomesByModel()
    {
        lock (_lock)
        {
            return new Dictionary<string, OutcomeStatistics>(_outcomes, StringComparer.Ordinal);
        }
    }

    /// <summary>Events seen per type name.</summary>
    public IReadOnlyDictionary<string, long> CountsByType()
    {
        lock (_lock)
        {
            return new Dictionary<string, long>(_counts, StringComparer.Ordinal);
        }
    }

    internal void Apply(StoredEvent stored, ISignalStreamEvent? @event)
    {
        lock (_lock)
        {
            _position = Math.Max(_position, stored.Position);
            _counts[stored.Type] = _counts.GetValueOrDefault(stored.Type) + 1;
            switch (@event)
            {
                case SignalIssued { Signal: var signal }:
                    var key = new StreamKey(signal.Symbol, signal.Timeframe);
                    if (!_latest.TryGetValue(key, out var held) || held.Seq < signal.Seq)
                    {
                        _latest[key] = signal;
                    }

                    break;
                case SignalResolved { Outcome: var outcome }:
                    foreach (var model in outcome.Models)
                    {
                        var name = outcome.IsShadow ? model.Name + " (shadow)" : model.Name;
                        _outcomes[name] = _outcomes.GetValueOrDefault(name).Add(outcome);
                    }

                    break;
            }
        }
    }
}

/// <summary>Outcome counts of one model.</summary>
public readonly record struct OutcomeStatistics(long Wins, long Losses, long Expired, double SumR)
{
    /// <summary>All outcomes.</summary>
    public long Total => Wins + Losses + Expired;

    internal OutcomeStatistics Add(SignalOutcome outcome) => outcome.Outcome switch
    {
        OutcomeKind.Win => this with { Wins = Wins + 1, SumR = SumR + outcome.RMultiple },
        OutcomeKind.Loss => this with { Losses = Losses + 1, SumR = SumR + outcome.RMultiple },
        _ => this with { Expired = Expired + 1, SumR = SumR + outcome.RMultiple },
    };
}
