namespace SignalStream.LoadTests.Scenarios;

/// <summary>What one scenario measured against one server: the rows of every report.</summary>
internal sealed class ScenarioResult
{
    public required string Scenario { get; init; }

    public required string Target { get; init; }

    public int Clients { get; set; }

    public int Symbols { get; set; }

    public double DurationSeconds { get; set; }

    public double ConnectSeconds { get; set; }

    public double ConnectsPerSecond { get; set; }

    public long Published { get; set; }

    public long Expected { get; set; }

    public long Delivered { get; set; }

    public long Recovered { get; set; }

    public double OfferedPerSecond { get; set; }

    public double DeliveredPerSecond { get; set; }

    public long LatencyCount { get; set; }

    public double P50Ms { get; set; }

    public double P90Ms { get; set; }

    public double P99Ms { get; set; }

    public double P999Ms { get; set; }

    public double MaxMs { get; set; }

    /// <summary>Copies a latency summary's count and percentiles into this row.</summary>
    public void SetLatency(Measurement.LatencySummary latency)
    {
        LatencyCount = latency.Count;
        P50Ms = latency.P50;
        P90Ms = latency.P90;
        P99Ms = latency.P99;
        P999Ms = latency.P999;
        MaxMs = latency.Max;
    }

    public long Gaps { get; set; }

    public long Duplicates { get; set; }

    /// <summary>Signals a connected (not slow) client never received by the end of the drain.</summary>
    public long Missing { get; set; }

    public long Errors { get; set; }

    public int ClientsLost { get; set; }

    public int SlowClients { get; set; }

    public int SlowDisconnected { get; set; }

    public double ServerCpuAveragePercent { get; set; }

    public double ServerCpuPeakPercent { get; set; }

    public double ServerRssPeakMb { get; set; }

    public double IdleKbPerConnection { get; set; }

    /// <summary>Idle scenario: the same after holding the clients idle for <c>--duration</c> seconds.</summary>
    public double IdleKbPerConnectionSettled { get; set; }

    /// <summary>Idle scenario: the anonymous part of it (heaps and stacks, not mapped code).</summary>
    public double IdleAnonKbPerConnectionSettled { get; set; }

    public double HarnessCpuAveragePercent { get; set; }

    /// <summary>Delivered messages in each second of the run (for the chart).</summary>
    public List<long> DeliveredSeries { get; set; } = [];

    public List<string> Notes { get; set; } = [];

    public List<string> ErrorSamples { get; set; } = [];

    /// <summary>Everything delivered, nothing twice, no hole: what the CI smoke asserts.</summary>
    public bool Correct => Gaps == 0 && Duplicates == 0 && Missing == 0 && ClientsLost == 0 && Errors == 0;
}
