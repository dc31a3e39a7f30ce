using SignalStream.Contracts;
using SignalStream.Ingest;

namespace SignalStream.Hub.Hubs;

/// <summary>The symbols and timeframes this deployment serves (<c>Ingest:Symbols</c>, <c>Ingest:Timeframes</c>),
/// against which every client argument is checked.</summary>
internal sealed class ServedMarkets
{
    private readonly HashSet<string> _symbols;

    public ServedMarkets(IConfiguration configuration)
    {
        var ingest = IngestOptions.Bind(configuration);
        Symbols = ingest.ResolvedSymbols();
        Timeframes = ingest.ResolvedTimeframes();
        TimeframeNames = Timeframes.Select(t => t.ToName()).ToArray();
        _symbols = new HashSet<string>(Symbols, StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Symbols { get; }

    public IReadOnlyList<Timeframe> Timeframes { get; }

    public IReadOnlyList<string> TimeframeNames { get; }

    public bool IsServed(string symbol) => _symbols.Contains(symbol);

    public bool IsServed(Timeframe timeframe) => Timeframes.Contains(timeframe);
}
