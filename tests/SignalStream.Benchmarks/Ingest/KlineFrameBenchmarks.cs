using System.Text;
using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;
using SignalStream.Ingest.Binance.Internal;

namespace SignalStream.Benchmarks.Ingest;

/// <summary>
/// Cost of one Binance kline frame on the receive path: parse the combined-stream JSON from the received bytes,
/// intern the symbol and find the stream's tracker. Expected: well under a microsecond and 0 B allocated.
/// Run: dotnet run -c Release --project tests/SignalStream.Benchmarks -- --filter '*KlineFrame*' --job short
/// </summary>
[MemoryDiagnoser]
public class KlineFrameBenchmarks
{
    private const string InProgress = """{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1704067230001,"s":"BTCUSDT","k":{"t":1704067200000,"T":1704067259999,"s":"BTCUSDT","i":"1m","f":3352745310,"L":3352745899,"o":"42283.58000000","c":"42301.12000000","h":"42310.00000000","l":"42280.01000000","v":"12.73461000","n":590,"x":false,"q":"538512.85714210","V":"7.11203000","Q":"300752.68510411","B":"0"}}}""";

    private byte[] _inProgress = [];
    private byte[] _closed = [];
    private SymbolTable _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        // 500 symbols x 4 timeframes, like a large deployment: the lookup must not depend on the table's size.
        var symbols = Enumerable.Range(1, 499).Select(i => $"S{i:D4}USDT").Append("BTCUSDT");
        Timeframe[] timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];
        _table = new SymbolTable(symbols.SelectMany(s => timeframes.Select(tf => new StreamTracker(new StreamKey(s, tf)))));
        _inProgress = Encoding.UTF8.GetBytes(InProgress);
        _closed = Encoding.UTF8.GetBytes(InProgress.Replace("\"x\":false", "\"x\":true", StringComparison.Ordinal));
        if (Parse(_inProgress) is null || Parse(_closed) is null)
        {
            throw new InvalidOperationException("The benchmark frames must parse.");
        }
    }

    [Benchmark(Baseline = true)]
    public bool InProgressFrame() => Parse(_inProgress) is not null;

    [Benchmark]
    public bool ClosedFrame() => Parse(_closed) is not null;

    private StreamTracker? Parse(byte[] bytes) =>
        KlineFrameParser.Parse(bytes, _table, out var frame) == FrameKind.Kline
            ? frame.Symbol!.Trackers[(int)frame.Candle.Timeframe]
            : null;
}
