using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Ingest;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;
using SignalStream.Ingest.Tests.Simulated;

namespace SignalStream.Ingest.Tests.Replay;

public sealed class ReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("signalstream-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<Candle> Simulated(string symbol, Timeframe timeframe, int count) =>
        [.. MarketSimulator.GenerateClosed([symbol], [timeframe], count)];

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void BinanceCsvRoundTripsExactlyWithSymbolAndIntervalFromTheDumpFileName()
    {
        var candles = Simulated("ETHUSDT", Timeframe.FiveMinutes, 50);
        using (var writer = new StreamWriter(Path.Combine(_dir, "ETHUSDT-5m-2024-12.csv")))
        {
            CandleFile.WriteBinanceCsv(writer, candles);
        }

        var read = CandleFile.Read(Path.Combine(_dir, "ETHUSDT-5m-2024-12.csv"));
        Assert.Empty(read.Errors);
        Assert.Equal(candles, read.Candles);
    }

    [Fact]
    public void JsonLinesRoundTripAndStreamsComeBackInterleavedInCloseOrder()
    {
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT", "SOLUSDT"], [Timeframe.OneMinute, Timeframe.FiveMinutes], 20).ToList();
        using (var writer = new StreamWriter(Path.Combine(_dir, "all.jsonl")))
        {
            // Written stream by stream: the reader must restore close-time order.
            CandleFile.WriteJsonLines(writer, candles.OrderBy(c => c.Symbol).ThenBy(c => c.Timeframe));
        }

        var read = CandleFile.Read(_dir);
        Assert.Empty(read.Errors);
        Assert.Equal(candles.OrderBy(c => c.CloseTime).ThenBy(c => c.Symbol, StringComparer.Ordinal).ThenBy(c => c.Timeframe), read.Candles);
    }

    [Fact]
    public void MicrosecondTimestampsAndAHeaderLineAreAccepted()
    {
        var path = Write("data.csv",
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n" +
            "1735689600000000,93576.00,93610.93,93537.50,93610.93,8.21827,1735689659999999,768978.4,1521,5.3,496130.0,0\n");
        var read = CandleFile.Read(path, "BTCUSDT", Timeframe.OneMinute);
        Assert.Empty(read.Errors);
        var candle = Assert.Single(read.Candles);
        Assert.Equal(1_735_689_600_000, candle.OpenTime);
        Assert.Equal(1_735_689_659_999, candle.CloseTime);
        Assert.Equal(93610.93m, candle.Close);
    }

    [Theory]
    [InlineData("1735689600000,1,2,0.5,1.5,10,1735689659999,15,3,4\n", "expected 12 comma-separated fields")]
    [InlineData("1735689600000,1,2,0.5,abc,10,1735689659999,15,3,4,6,0\n", "not a plain non-negative number")]
    [InlineData("1735689600000,1,0.9,0.5,1.5,10,1735689659999,15,3,4,6,0\n", "prices are inconsistent")]
    [InlineData("1735689601000,1,2,0.5,1.5,10,1735689660999,15,3,4,6,0\n", "not aligned to 1m")]
    [InlineData("1735689600000,1,2,0.5,1.5,10,1735689660000,15,3,4,6,0\n", "close_time 1735689660000 should be 1735689659999")]
    [InlineData("1735689600000,1,2,0.5,1.5,10,1735689659999,15,3,11,6,0\n", "exceeds volume")]
    public void AnInvalidLineIsReportedWithFileLineAndProblem(string line, string problem)
    {
        var good = "1735689540000,1,2,0.5,1.5,10,1735689599999,15,3,4,6,0\n";
        var path = Write("XRPUSDT-1m-2025-01.csv", good + line);
        var read = CandleFile.Read(path);
        var error = Assert.Single(read.Errors);
        Assert.StartsWith($"{path}:2: ", error, StringComparison.Ordinal);
        Assert.Contains(problem, error, StringComparison.Ordinal);
        Assert.Single(read.Candles);
    }

    [Fact]
    public void DuplicatesAndUnnamedCsvFilesAreReported()
    {
        var line = "1735689600000,1,2,0.5,1.5,10,1735689659999,15,3,4,6,0\n";
        var dup = CandleFile.Read(Write("XRPUSDT-1m-2025-01.csv", line + line));
        Assert.Contains(dup.Errors, e => e.Contains(":2: duplicate candle for XRPUSDT@1m", StringComparison.Ordinal));

        var unnamed = CandleFile.Read(Write("candles.csv", line));
        Assert.Contains(unnamed.Errors, e => e.Contains("needs its symbol and interval", StringComparison.Ordinal));

        var json = CandleFile.Read(Write("bad.jsonl", "{\"symbol\":\"BTCUSDT\",\n"));
        Assert.Contains(json.Errors, e => e.Contains("bad.jsonl:1: not a candle in JSON", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheReplaySourceEmitsEveryCandleInOrderPerStreamAsReplay()
    {
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT", "ETHUSDT"], [Timeframe.OneMinute, Timeframe.OneHour], 30).ToList();
        using (var writer = new StreamWriter(Path.Combine(_dir, "rec.jsonl")))
        {
            CandleFile.WriteJsonLines(writer, candles);
        }

        await using var provider = Build(Path.Combine(_dir, "rec.jsonl"));
        using var messages = new IngestMessageCounter(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var source = provider.GetRequiredService<ICandleSource>();
        Assert.Equal("replay", source.Exchange);
        var channel = new CandleUpdateChannel();
        await source.RunAsync(channel, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        channel.Complete();
        var received = new List<CandleUpdate>();
        await foreach (var update in channel.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            received.Add(update);
        }

        Assert.Equal(candles.Count, received.Count);
        Assert.Equal(candles.Count, messages.Count("replay"));
        Assert.All(received, u => Assert.True(u.IsClosed && u.Origin == CandleOrigin.Replay && u.Exchange == "replay"));
        foreach (var stream in received.GroupBy(u => u.Candle.Stream))
        {
            Assert.Equal(candles.Where(c => c.Stream == stream.Key), stream.Select(u => u.Candle));
        }
    }

    [Fact]
    public async Task AFileWithProblemsIsNotReplayed()
    {
        var path = Write("XRPUSDT-1m-2025-01.csv", "1735689600000,1,2,0.5,1.5,10,1735689659999,15,3,4,6,0\nbroken\n");
        await using var provider = Build(path);
        var channel = new CandleUpdateChannel();
        await provider.GetRequiredService<ICandleSource>().RunAsync(channel, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(channel.TryRead(out _));
    }

    [Fact]
    public void AMissingPathIsRejectedAtStartWithAMessageThatSaysHowToFixIt()
    {
        using var provider = Build(Path.Combine(_dir, "nope.csv"));
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ReplaySourceOptions>>().Value);
        Assert.Contains("Ingest:Replay:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(string path)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Source"] = "replay",
            ["Ingest:Replay:Path"] = path,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSignalStreamIngest(configuration);
        return services.BuildServiceProvider();
    }
}
