namespace SignalStream.Tools.Replay;

/// <summary>What to replay, from where, into which namespace.</summary>
/// <param name="Storage"><c>file</c> or <c>postgres</c>.</param>
/// <param name="Path">The journal folder (file).</param>
/// <param name="Postgres">The connection string (postgres).</param>
/// <param name="Into">The target stream namespace.</param>
/// <param name="Symbols">Only these symbols (upper-case), or all when empty.</param>
/// <param name="Models">The models folder (default: the server's <c>Models:Path</c>).</param>
/// <param name="Settings">Configuration overrides (<c>--set Signals:MinVoteScore=0.6</c>): a backtest of other rules.</param>
/// <param name="Out">
/// The journal folder the replay writes (file): the source journal is only read, so the replay can run beside the node
/// that owns it. Default: <c>replays</c> inside the source folder.
/// </param>
/// <param name="Report">Where to write the backtest report (<c>report.md</c> and charts), or null for none.</param>
internal sealed record ReplayOptions(
    string Storage, string? Path, string? Postgres, string Into, IReadOnlySet<string> Symbols, string? Models, IReadOnlyDictionary<string, string?> Settings, string? Out = null,
    string? Report = null)
{
    /// <summary>Where a file replay writes, for a source journal at <paramref name="source"/>.</summary>
    public string OutFolder(string source) => Out ?? System.IO.Path.Combine(source, "replays");
}

/// <summary>What a replay did.</summary>
/// <param name="Performance">The replay's journal when it ended (the report's figures).</param>
/// <param name="ModelInfos">The models it ran.</param>
/// <param name="FirstCandleClose">Close time of the first replayed candle (Unix ms; 0 for none).</param>
/// <param name="LastCandleClose">Close time of the last.</param>
internal sealed record ReplayResult(long Candles, long Signals, long ShadowSignals, long Outcomes, int Models, TimeSpan Elapsed)
{
    public Contracts.PerformanceReport? Performance { get; init; }

    public IReadOnlyList<Contracts.ModelInfo> ModelInfos { get; init; } = [];

    public long FirstCandleClose { get; init; }

    public long LastCandleClose { get; init; }
}
