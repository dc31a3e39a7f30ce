using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using SignalStream.Contracts;
using SignalStream.Engine.Journal;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>The <c>SignalStream.Signals</c> meter: signals, shadow signals, outcomes, win rate per model, open signals.</summary>
internal sealed class SignalsMetrics
{
    public const string MeterName = "SignalStream.Signals";

    private readonly Counter<long> _signals;
    private readonly Counter<long> _shadowSignals;
    private readonly Counter<long> _outcomes;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public SignalsMetrics(IMeterFactory meterFactory, SignalJournal journal)
    {
        var meter = meterFactory.Create(MeterName);
        _signals = meter.CreateCounter<long>(
            "signalstream_signals_total", description: "Published signals by timeframe and direction.");
        _shadowSignals = meter.CreateCounter<long>(
            "signalstream_shadow_signals_total", description: "Shadow models' would-be signals (journaled, never published).");
        _outcomes = meter.CreateCounter<long>(
            "signalstream_signal_outcomes_total",
            description: "Resolved signals by model (ensemble for published signals as a whole) and outcome.");
        meter.CreateObservableGauge(
            "signalstream_model_win_rate",
            () => ObserveWinRates(journal),
            description: "Share of resolved signals that won, per model, over all symbols and timeframes.");
        meter.CreateObservableGauge(
            "signalstream_open_signals",
            () => journal.OpenLiveSignals,
            description: "Published signals not yet resolved.");
    }

    public void SignalPublished(Signal signal) =>
        _signals.Add(1, new("timeframe", signal.Timeframe.ToName()), new("direction", DirectionName(signal.Direction)));

    public void ShadowSignal(string model) => _shadowSignals.Add(1, new KeyValuePair<string, object?>("model", model));

    public void OutcomeResolved(SignalOutcome outcome)
    {
        var kind = OutcomeName(outcome.Outcome);
        var ensemble = SignalSources.IsEnsemble(outcome.Source);
        if (!outcome.IsShadow && ensemble)
        {
            _outcomes.Add(1, new("model", SignalJournal.EnsembleModel), new("outcome", kind), new("shadow", "false"));
        }

        foreach (var vote in outcome.Models)
        {
            // As the journal: an alert's vote is counted by its own alerts' outcomes, not by the ensemble's.
            if (vote.IsShadow == outcome.IsShadow && (!ensemble || !SignalJournal.IsAlertVote(vote)))
            {
                _outcomes.Add(1, new("model", vote.Name), new("outcome", kind), new("shadow", ShadowTag(outcome.IsShadow)));
            }
        }
    }

    // A shadow model may share its name with the live model it would replace (a new version): the label keeps them apart.
    private static string ShadowTag(bool isShadow) => isShadow ? "true" : "false";

    internal static string DirectionName(SignalDirection direction) => direction == SignalDirection.Long ? "long" : "short";

    internal static string OutcomeName(OutcomeKind outcome) => outcome switch
    {
        OutcomeKind.Win => "win",
        OutcomeKind.Loss => "loss",
        _ => "expired",
    };

    private static IEnumerable<Measurement<double>> ObserveWinRates(SignalJournal journal)
    {
        var rates = new List<(string Model, bool IsShadow, double WinRate)>();
        journal.CollectModelWinRates(rates);
        foreach (var (model, isShadow, winRate) in rates)
        {
            yield return new Measurement<double>(
                winRate, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("shadow", ShadowTag(isShadow)));
        }
    }
}
