namespace SignalStream.LoadTests.Scenarios;

/// <summary>One rung of a capacity sweep: the steady workload at <see cref="Rate"/> signals a second.</summary>
internal sealed class SweepStep
{
    /// <summary>Signals published per second over all symbols (the ladder's value).</summary>
    public required double Rate { get; init; }

    /// <summary>What the step measured; its gaps, duplicates and errors are this step's own, missing and lost clients
    /// are the state at the end of its drain.</summary>
    public required ScenarioResult Result { get; init; }

    /// <summary>Every connected client had every signal before the drain's time limit.</summary>
    public bool Drained { get; set; }
}

/// <summary>A capacity sweep against one server: its steps and the capacity they show.</summary>
internal sealed class SweepResult
{
    public required string Target { get; init; }

    public required double P99BoundMs { get; init; }

    public int Clients { get; set; }

    public int Symbols { get; set; }

    /// <summary>The machine's load averages when this server's sweep started and ended (the targets run one after the
    /// other, so background load can differ between them).</summary>
    public string LoadAverage { get; set; } = "";

    public double ConnectsPerSecond { get; set; }

    public double IdleKbPerConnection { get; set; }

    /// <summary>The unmeasured warm-up at the ladder's first rate; its continuity is still checked.</summary>
    public ScenarioResult? WarmUp { get; set; }

    public List<SweepStep> Steps { get; } = [];

    /// <summary>Why the climb stopped before the ladder's top; null when it ran every rate (or the run was cut).</summary>
    public string? StoppedBecause { get; set; }

    public List<string> Notes { get; } = [];

    public SweepStep? CapacityStep => SweepCapacity.Capacity(Steps, P99BoundMs);

    /// <summary>Delivered messages per second of the capacity step; 0 when no step was within the bound.</summary>
    public double CapacityPerSecond => CapacityStep?.Result.DeliveredPerSecond ?? 0;

    /// <summary>No rate above the capacity step's was measured to miss: the server was never pushed past the bound, so
    /// its capacity is at least this (climb further with a longer --sweep-rates).</summary>
    public bool CapacityIsLowerBound => SweepCapacity.IsFloor(Steps, P99BoundMs);
}
