namespace SignalStream.Contracts;

/// <summary>A loaded model as <c>/api/models</c> reports it.</summary>
/// <param name="Status"><c>active</c>, <c>shadow</c>, or <c>failed</c> (with <paramref name="Error"/>).</param>
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
    string? Error = null);
