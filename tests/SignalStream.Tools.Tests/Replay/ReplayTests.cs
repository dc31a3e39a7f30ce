using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.Ingest.Simulated;
using SignalStream.Tools;
using SignalStream.Tools.Replay;

namespace SignalStream.Tools.Tests.Replay;

/// <summary>The <c>replay</c> verb: stored candles through the current engine into a namespace, deterministically.</summary>
public sealed class ReplayTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT"];
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "signalstream-replay-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public async Task ReplayingTwiceIntoTwoNamespacesGivesIdenticalSignals()
    {
        var stored = await StoreLiveCandlesAsync();

        var first = await ReplayAsync("replay-a");
        var second = await ReplayAsync("replay-b");

        Assert.Equal(stored, first.Candles);
        Assert.Equal(stored, second.Candles);
        Assert.True(first.Signals > 0, $"the bundled models produced no signal on the stored candles ({first}), so the comparison would prove nothing");
        await using var replays = await OpenAsync(Path.Combine(_folder, "replays"));
        await using var source = await OpenAsync(_folder);
        var replayed = 0;
        foreach (var symbol in Symbols)
        {
            var a = await ReadAllJsonAsync(replays, EventStreams.Signals(symbol, "replay-a"));
            var b = await ReadAllJsonAsync(replays, EventStreams.Signals(symbol, "replay-b"));
            Assert.Equal(a, b);
            replayed += a.Count;
            Assert.Equal(await ReadAllJsonAsync(replays, EventStreams.Outcomes(symbol, "replay-a")), await ReadAllJsonAsync(replays, EventStreams.Outcomes(symbol, "replay-b")));

            // Nothing was written into the live streams, nor into the source journal at all.
            Assert.Equal(0, await replays.GetStreamVersionAsync(EventStreams.Signals(symbol)).AsTask().WaitAsync(Wait));
            Assert.Equal(stored, await source.GetLastPositionAsync().AsTask().WaitAsync(Wait));
        }

        // Counted after the writer drained: every signal the replay reports is stored.
        Assert.Equal(first.Signals, replayed);
    }

    [Fact]
    public async Task AReplayRunsBesideTheNodeThatOwnsTheJournal()
    {
        var stored = await StoreLiveCandlesAsync(candlesPerStream: 100);

        // The owner holds the folder's lock and keeps appending while the replay reads.
        await using var owner = await OpenAsync(_folder);
        var replay = ReplayRunner.RunAsync(Options("beside"), TextWriter.Null, CancellationToken.None);
        await owner.AppendAsync([new StreamAppend("after-replay-start", "test", ExpectedVersions.Any, [new EventData(Guid.NewGuid(), "test_event", 1, "{}"u8.ToArray(), DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()))])]).AsTask().WaitAsync(Wait);
        var (result, error) = await replay.WaitAsync(Wait);

        Assert.True(result is not null, error);
        Assert.Equal(stored, result.Candles);
        Assert.Equal(stored + 1, await owner.GetLastPositionAsync().AsTask().WaitAsync(Wait));
        await using var replays = await OpenAsync(Path.Combine(_folder, "replays"));
        Assert.True(await replays.GetStreamVersionAsync(EventStreams.Models("beside")).AsTask().WaitAsync(Wait) > 0);
    }

    [Fact]
    public async Task StoredTradingViewAlertsAreReplayedIntoTheNamespaceAndScoredOnTheReplayedCandles()
    {
        var store = await OpenAsync(_folder);
        var candles = MarketSimulator.GenerateClosed(Symbols, [Timeframe.OneMinute, Timeframe.FiveMinutes], 200, seed: 7).ToList();
        var anchor = candles.Where(c => c.Symbol == "BTCUSDT" && c.Timeframe == Timeframe.OneMinute).ElementAt(120);
        var open = anchor.CloseTime + 1;
        var signal = new Signal
        {
            Id = "BTCUSDT-1m-tradingview-main-test",
            Seq = 0,
            Symbol = "BTCUSDT",
            Timeframe = Timeframe.OneMinute,
            Direction = SignalDirection.Long,
            Confidence = 70,
            Probabilities = new ClassProbabilities(0.15, 0.15, 0.7),
            Entry = anchor.Close,
            Target = anchor.Close * 1.002m,
            Stop = anchor.Close * 0.998m,
            RiskReward = 1,
            FusionScore = 55,
            Models = [new ModelVote("tradingview:main", "alert", SignalSources.TradingViewFamily, "long", 1, new ClassProbabilities(0.15, 0.15, 0.7))],
            Rationale = ["TradingView alert from main: buy BTCUSDT"],
            CandleOpenTime = open,
            CandleCloseTime = Timeframe.OneMinute.CloseTimeOf(open),
            CreatedAt = anchor.CloseTime + 10,
            ExpiresAt = Timeframe.OneMinute.CloseTimeOf(open) + (12 * 60_000),
            ExchangeTime = anchor.CloseTime + 10,
            ReceivedAt = anchor.CloseTime + 10,
            Source = "tradingview:main",
        };
        var alert = new TradingViewAlertReceived
        {
            Id = Guid.NewGuid(),
            Source = "tradingview:main",
            Mode = "signal",
            Action = "buy",
            Symbol = "BTCUSDT",
            Timeframe = Timeframe.OneMinute,
            Price = anchor.Close,
            Ticker = "BINANCE:BTCUSDT",
            Interval = "1",
            DedupeKey = "id:test",
            ReceivedAt = anchor.CloseTime + 10,
            MarketTime = anchor.CloseTime,
            Signal = signal,
        };

        // Stored as live did: the candles up to the alert's market time, the alert, then the rest.
        var now = DateTimeOffset.UtcNow;
        await AppendCandlesAsync(store, candles.Where(c => c.CloseTime <= anchor.CloseTime), now);
        var stored = EventSerializer.Serialize(alert, alert.Id, now);
        Assert.True((await store.AppendAsync([new StreamAppend(EventStreams.Alerts("BTCUSDT"), EventStreams.AlertsType, ExpectedVersions.Any, [stored])]).AsTask().WaitAsync(Wait)).IsCommitted);
        await AppendCandlesAsync(store, candles.Where(c => c.CloseTime > anchor.CloseTime), now);
        await store.DisposeAsync();

        await ReplayAsync("replay-a");
        await ReplayAsync("replay-b");

        store = await OpenAsync(Path.Combine(_folder, "replays"));
        var replayed = (await store.ReadStreamAsync(EventStreams.Signals("BTCUSDT", "replay-a"), 1, 100_000).AsTask().WaitAsync(Wait))
            .Select(e => EventSerializer.TryDeserialize(e, out var d, out _) ? ((SignalIssued)d).Signal : null)
            .Single(s => s!.Source == "tradingview:main")!;
        Assert.Equal((signal.Id, signal.Entry, signal.Target, signal.Stop), (replayed.Id, replayed.Entry, replayed.Target, replayed.Stop));
        Assert.Equal(await ReadAllJsonAsync(store, EventStreams.Signals("BTCUSDT", "replay-a")), await ReadAllJsonAsync(store, EventStreams.Signals("BTCUSDT", "replay-b")));
        var outcomes = await ReadAllJsonAsync(store, EventStreams.Outcomes("BTCUSDT", "replay-a"));
        Assert.Single(outcomes, o => o.Contains(signal.Id, StringComparison.Ordinal));
        Assert.Equal(outcomes, await ReadAllJsonAsync(store, EventStreams.Outcomes("BTCUSDT", "replay-b")));
        Assert.Equal(0, await store.GetStreamVersionAsync(EventStreams.Alerts("BTCUSDT", "replay-a")).AsTask().WaitAsync(Wait)); // not stored again
        await store.DisposeAsync();
    }

    [Fact]
    public async Task ANamespaceThatAlreadyHoldsAReplayIsRefused()
    {
        await StoreLiveCandlesAsync(candlesPerStream: 50);
        await ReplayAsync("taken");

        var (result, error) = await ReplayRunner.RunAsync(Options("taken"), TextWriter.Null, CancellationToken.None).WaitAsync(Wait);

        Assert.Null(result);
        Assert.Contains("already holds a replay", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "Option '--into' is required.")]
    [InlineData(new[] { "--into", "a/b" }, "Stream namespace 'a/b' is not valid")]
    [InlineData(new[] { "--into", "r1", "--storage", "mysql" }, "--storage 'mysql' is unknown: use file or postgres.")]
    [InlineData(new[] { "--into", "r1", "--postgres", "Host=x" }, "--postgres needs --storage postgres.")]
    [InlineData(new[] { "--into", "r1", "--storage", "postgres" }, "--path and --out are for --storage file")]
    [InlineData(new[] { "--into" }, "Required argument missing for option: '--into'.")]
    [InlineData(new[] { "--into", "r1", "--speed", "2" }, "Unrecognized command or argument '--speed'.")]
    [InlineData(new[] { "--into", "r1", "--set", "NoEquals" }, "--set 'NoEquals' must be KEY=VALUE")]
    [InlineData(new[] { "--into", "r1", "--symbols", "BTC-USDT" }, "--symbols 'BTC-USDT' is not a list of symbols")]
    public async Task UsageErrorsSayWhatIsWrongAndRunNothing(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await ToolsCommandLine.InvokeAsync(["replay", "--path", _folder, .. args], output, error).WaitAsync(Wait);

        Assert.Equal(ToolsCommandLine.UsageError, exit);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Run 'signalstream-tools replay --help' for the options.", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
        Assert.False(Directory.Exists(_folder), "a usage error must not touch the journal folder");
    }

    private async Task<long> StoreLiveCandlesAsync(int candlesPerStream = 400)
    {
        var store = await OpenAsync(_folder);
        var candles = MarketSimulator.GenerateClosed(Symbols, [Timeframe.OneMinute, Timeframe.FiveMinutes], candlesPerStream, seed: 7).ToList();
        var now = DateTimeOffset.UtcNow;
        foreach (var chunk in candles.Chunk(100))
        {
            var group = chunk.Select(c => new StreamAppend(
                EventStreams.Candles(c.Stream),
                EventStreams.CandlesType,
                ExpectedVersions.Any,
                [EventSerializer.Serialize(new CandleClosed("simulated", c, CandleOrigin.Simulated, c.CloseTime + 1, c.CloseTime + 2), Guid.CreateVersion7(now), now)]))
                .ToList();
            Assert.True((await store.AppendAsync(group).AsTask().WaitAsync(Wait)).IsCommitted);
        }

        await store.DisposeAsync();
        return candles.Count;
    }

    private static async Task AppendCandlesAsync(IEventStore store, IEnumerable<Candle> candles, DateTimeOffset now)
    {
        foreach (var chunk in candles.Chunk(100))
        {
            var group = chunk.Select(c => new StreamAppend(
                EventStreams.Candles(c.Stream),
                EventStreams.CandlesType,
                ExpectedVersions.Any,
                [EventSerializer.Serialize(new CandleClosed("simulated", c, CandleOrigin.Simulated, c.CloseTime + 1, c.CloseTime + 2), Guid.CreateVersion7(now), now)]))
                .ToList();
            Assert.True((await store.AppendAsync(group).AsTask().WaitAsync(Wait)).IsCommitted);
        }
    }

    private async Task<ReplayResult> ReplayAsync(string ns)
    {
        var (result, error) = await ReplayRunner.RunAsync(Options(ns), TextWriter.Null, CancellationToken.None).WaitAsync(Wait);
        Assert.True(result is not null, error);
        return result;
    }

    // Looser rules than the defaults so that a few hundred simulated candles certainly produce signals to compare.
    private ReplayOptions Options(string ns) => new("file", _folder, null, ns, new HashSet<string>(), RepositoryModels(), new Dictionary<string, string?>
    {
        ["Signals:MinVoteScore"] = "0.34",
        ["Signals:MinVoteMargin"] = "0",
        ["Signals:RequireFamilyAgreement"] = "false",
    });

    private static async Task<FileEventStore> OpenAsync(string folder)
    {
        var store = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync().AsTask().WaitAsync(Wait);
        return store;
    }

    /// <summary>The events' JSON, compared as text: every field of every signal, in stream order.</summary>
    private static async Task<List<string>> ReadAllJsonAsync(IEventStore store, string stream)
    {
        var events = await store.ReadStreamAsync(stream, 1, 100_000).AsTask().WaitAsync(Wait);
        return events.Select(e => e.Version + " " + e.Type + " " + JsonDocument.Parse(e.Data).RootElement.GetRawText()).ToList();
    }

    private static string RepositoryModels()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "models")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? ".", "models");
    }
}
