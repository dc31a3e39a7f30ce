namespace SignalStream.Contracts;

/// <summary>A loaded model as <c>/api/models</c> reports it.</summary>
/// <param name="Status"><c>active</c>, <c>shadow</c>, or <c>failed</c> (with <paramref name="Error"/>).</param>
/// <param name="Recurrence">For a recurrent model (one row a step, state kept per stream), its chain; null for a windowed one.</param>
public sealed record ModelInfo(
    string Name,
    string Version,
    string Family,
    string Status,
    double Weight,
    int Window,
    IReadOnlyList<string> Features,
    IReadOnlyList<string> Timeframes,
    string Sha256,
    double? HoldoutAccuracy,
    double? BrierScore,
    string? Error = null,
    ModelRecurrence? Recurrence = null);

/// <summary>How a recurrent model reads a stream (docs/models.md, "A recurrent LSTM").</summary>
/// <param name="Chain">Bars a chain steps through: a prediction at bar k reads the rows from L·(⌊k/L⌋ − 1) to k.</param>
/// <param name="StateWidth">Floats of state the node keeps per stream for this model.</param>
public sealed record ModelRecurrence(int Chain, int StateWidth);
