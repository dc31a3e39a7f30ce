using SignalStream.Contracts;
using SignalStream.Engine.Features;

namespace SignalStream.Engine.Inference;

/// <summary>One model's class probabilities for one stream at one closed candle.</summary>
/// <param name="Model">Manifest name.</param>
/// <param name="Version">Manifest version.</param>
/// <param name="Family"><c>lstm</c> or <c>patchtst</c> (the decision requires the families to agree).</param>
/// <param name="IsShadow">Shadow models run in the same batches; their signals are journaled, never published.</param>
/// <param name="Weight">Ensemble weight from the manifest.</param>
public sealed record ModelPrediction(
    string Model,
    string Version,
    string Family,
    bool IsShadow,
    double Weight,
    float Down,
    float Flat,
    float Up);

/// <summary>What the engine hands the signal stage for every closed candle, in order per stream.</summary>
/// <param name="Update">The closed candle.</param>
/// <param name="Indicators">Indicators after this candle (all zero while the stream warms up).</param>
/// <param name="Predictions">The models' predictions: every live and shadow model's, or, when the shadow models' come
/// later (<see cref="ShadowPredictionsFollow"/>), the live models' only. Empty while the window is not full or for
/// history candles.</param>
public sealed record ClosedCandleResult(
    CandleUpdate Update,
    IndicatorSnapshot Indicators,
    IReadOnlyList<ModelPrediction> Predictions)
{
    /// <summary>
    /// The shadow models' predictions of this candle come after, through
    /// <see cref="ISignalStage.OnShadowPredictionsAsync"/> with this same result (with none when every shadow model
    /// failed): the stage keeps what their decisions read (the live predictions and the symbol's fusion views as of this
    /// call), and resolves the stream's open shadow signals on this candle in that call rather than in this one.
    /// </summary>
    public bool ShadowPredictionsFollow { get; init; }
}

/// <summary>
/// The signal stage: turns predictions into signals and resolves open signals on later candles. Calls for one stream
/// come in order and never concurrently: a candle's <see cref="OnClosedCandleAsync"/>, then (when it said shadow
/// predictions follow) its <see cref="OnShadowPredictionsAsync"/>, then the stream's next candle.
/// </summary>
public interface ISignalStage
{
    /// <summary>
    /// Resolves the stream's open signals on the candle (its shadow signals later, when shadow predictions follow), then
    /// decides (and publishes) its signal.
    /// </summary>
    ValueTask OnClosedCandleAsync(ClosedCandleResult result, CancellationToken cancellationToken);

    /// <summary>
    /// The shadow models' predictions of the candle whose <paramref name="decided"/> result (the one given to
    /// <see cref="OnClosedCandleAsync"/>, which announced them) was the stream's last: each decided against that call's
    /// live predictions and fusion views, journaled, never published. When that result said they follow, the stream's
    /// open shadow signals resolve on the candle first.
    /// </summary>
    ValueTask OnShadowPredictionsAsync(ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken);
}
