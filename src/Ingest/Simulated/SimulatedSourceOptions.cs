namespace SignalStream.Ingest.Simulated;

/// <summary>The <c>Ingest:Simulated</c> configuration section.</summary>
public sealed class SimulatedSourceOptions
{
    public const string SectionName = "Ingest:Simulated";

    /// <summary>The seed: the same seed, symbols and timeframes give the same price paths.</summary>
    public long Seed { get; set; } = 42;

    /// <summary>Market-clock multiple of real time: 60 closes a 1m candle every second.</summary>
    public double Speed { get; set; } = 1;

    /// <summary>In-progress updates per fine-grained step (the shortest candle gets this many before its close).</summary>
    public int ProgressUpdatesPerStep { get; set; } = 3;

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (!double.IsFinite(Speed) || Speed <= 0 || Speed > 10_000)
        {
            yield return $"Ingest:Simulated:Speed is {Speed}; it must be more than 0 and at most 10000 (1 = real time, 60 = a 1m candle every second).";
        }

        if (ProgressUpdatesPerStep is < 0 or > 20)
        {
            yield return $"Ingest:Simulated:ProgressUpdatesPerStep is {ProgressUpdatesPerStep}; use 0 to 20.";
        }
    }
}
