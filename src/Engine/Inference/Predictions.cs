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
/// <param name="Predictions">Every active and shadow model's prediction; empty while the window is not full
/// or for history candles.</param>
public sealed record ClosedCandleResult(
    CandleUpdate Update,
    IndicatorSnapshot Indicators,
    IReadOnlyList<ModelPrediction> Predictions);

/// <summary>The signal stage: turns predictions into signals and resolves open signals on later candles.</summary>
public interface ISignalStage
{
    ValueTask OnClosedCandleAsync(ClosedCandleResult result, CancellationToken cancellationToken);
}
