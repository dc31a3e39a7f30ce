using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Tools.Replay;

namespace SignalStream.Hub.Tests.EndToEnd;

/// <summary>
/// The <c>replay</c> verb against what the node really did: a live run on the simulated market (production composition,
/// bundled models) stores its candles and signals; replaying those stored candles through the same models twice must
/// give identical signals both times, and the signals live issued.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ReplayMatchesLiveTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT"];

    // The decision settings live runs with; the replay gets exactly these (and the live node's models folder).
    private static readonly Dictionary<string, string?> Decisions = new()
    {
        ["Signals:MinVoteScore"] = "0.34",
        ["Signals:MinVoteMargin"] = "0",
        ["Signals:RequireFamilyAgreement"] = "false",
        ["Signals:MinRiskReward"] = "0.1",
        ["Signals:ExpiryCandles"] = "4",
    };

    [Fact]
    public async Task ReplayingStoredCandlesTwiceGivesIdenticalSignalsAndTheSignalsLiveIssued()
    {
        var data = Directory.CreateTempSubdirectory("signalstream-replay-live-").FullName;
        try
        {
            string models;
            await using (var live = await TestServer.StartOnAsync(data, LiveRun()))
            {
                models = live.Services.GetRequiredService<IConfiguration>()["Models:Path"]!;
                var sequence = live.Services.GetRequiredService<ISignalSequence>();
                using var deadline = new CancellationTokenSource(Wait);
                while (await sequence.GetLastSeqAsync("BTCUSDT", deadline.Token) < 12 || await sequence.GetLastSeqAsync("ETHUSDT", deadline.Token) < 12)
                {
                    // The live market runs on its own clock: poll the store for the condition, bounded by the deadline.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), deadline.Token);
                }

                await live.StopAsync(); // graceful: everything the engine emitted is committed
            }

            var first = await ReplayAsync(data, models, "replay-a");
            var second = await ReplayAsync(data, models, "replay-b");
            Assert.Equal(first, second);

            // The replays read the node's journal and wrote their own, in its replays folder.
            await using var provider = Inspect(data);
            var store = provider.GetRequiredService<IEventStore>();
            await store.InitializeAsync().AsTask().WaitAsync(Wait);
            await using var replaysProvider = Inspect(Path.Combine(data, "replays"));
            var replays = replaysProvider.GetRequiredService<IEventStore>();
            await replays.InitializeAsync().AsTask().WaitAsync(Wait);
            foreach (var symbol in Symbols)
            {
                var liveSignals = await SignalsAsync(store, EventStreams.Signals(symbol));
                var a = await SignalsAsync(replays, EventStreams.Signals(symbol, "replay-a"));
                var b = await SignalsAsync(replays, EventStreams.Signals(symbol, "replay-b"));
                AssertSame(a.Select(Decision), b.Select(Decision), "replay-a", "replay-b");
                // The newest 5 minutes are left out: a candle stored just before the stop may not have been decided live,
                // while the replay decides every stored candle.
                var cutoff = liveSignals.Max(x => x.CandleCloseTime) - (long)TimeSpan.FromMinutes(5).TotalMilliseconds;
                var settledLive = liveSignals.Where(x => x.CandleCloseTime <= cutoff).ToList();
                Assert.NotEmpty(settledLive);
                AssertSame(
                    settledLive.Select(OwnDecision).Order(StringComparer.Ordinal),
                    a.Where(x => x.CandleCloseTime <= cutoff).Select(OwnDecision).Order(StringComparer.Ordinal),
                    "live",
                    "replay");
            }
        }
        finally
        {
            EngineEndToEndTests.DeleteQuietly(data);
        }
    }

    private static string[] LiveRun() =>
    [
        .. TestServer.SimulatedRun,
        "--Ingest:Symbols=" + string.Join(',', Symbols),
        "--Ingest:Timeframes=1m,5m",
        "--Logging:LogLevel:Default=Warning",
        .. Decisions.Select(d => $"--{d.Key}={d.Value}"),
    ];

    private static async Task<string> ReplayAsync(string data, string models, string ns)
    {
        var options = new ReplayOptions("file", data, null, ns, new HashSet<string>(), models, Decisions);
        var (result, error) = await ReplayRunner.RunAsync(options, TextWriter.Null, CancellationToken.None).WaitAsync(Wait);
        Assert.True(result is not null, error);
        return $"{result.Candles} candles, {result.Signals} signals, {result.ShadowSignals} shadow, {result.Outcomes} outcomes, {result.Models} models";
    }

    /// <summary>The file store the runs wrote, opened read-only in spirit (nothing is started, nothing appended).</summary>
    private static ServiceProvider Inspect(string data)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:File:Path"] = data }).Build());
        return services.BuildServiceProvider();
    }

    private static async Task<List<Signal>> SignalsAsync(IEventStore store, string stream)
    {
        var stored = await store.ReadStreamAsync(stream, 1, 100_000).AsTask().WaitAsync(Wait);
        return stored.Select(e => Assert.IsType<SignalIssued>(EventSerializer.TryDeserialize(e, out var d, out _) ? d : null).Signal).ToList();
    }

    /// <summary>Equal lists, or a failure that shows the first pair that differs in full.</summary>
    private static void AssertSame(IEnumerable<string> expected, IEnumerable<string> actual, string expectedName, string actualName)
    {
        var e = expected.ToList();
        var a = actual.ToList();
        for (var i = 0; i < Math.Min(e.Count, a.Count); i++)
        {
            Assert.True(e[i] == a[i], $"signal {i + 1} differs:\n{expectedName}: {e[i]}\n{actualName}: {a[i]}");
        }

        Assert.True(e.Count == a.Count, $"{expectedName} has {e.Count} signals, {actualName} {a.Count}");
    }

    /// <summary>
    /// What a signal decides from its own timeframe, which live and replay must share: which candles give a signal
    /// (the id), direction, confidence, probabilities, entry/target/stop, every model's vote and the rationale except
    /// its fusion sentence. Left out, because live legitimately differs: <see cref="Signal.FusionScore"/> (and its
    /// sentence) reads the symbol's other timeframes' latest predictions, and live computes the 1m and 5m predictions
    /// of one close concurrently, so whether the other timeframe's view is already there depends on which inference
    /// finished first — the replay decides strictly in stored order, one candle at a time; <see cref="Signal.Seq"/>,
    /// which follows that same per-symbol decision order; <see cref="Signal.CreatedAt"/> and
    /// <see cref="Signal.PublishedAt"/>, which are the live wall clock but the replay clock (the candle's receive time).
    /// </summary>
    private static string OwnDecision(Signal s) =>
        $"{s.Id} {s.Symbol} {s.Timeframe} {s.Direction} conf={s.Confidence:R} p={s.Probabilities} entry={s.Entry} target={s.Target} stop={s.Stop} " +
        $"rr={s.RiskReward:R} models=[{string.Join("; ", s.Models)}] why=[{string.Join("; ", s.Rationale.Where(r => !r.StartsWith("Fusion ", StringComparison.Ordinal)))}] " +
        $"candle={s.CandleOpenTime}-{s.CandleCloseTime} expires={s.ExpiresAt} exchange={s.ExchangeTime} received={s.ReceivedAt}";

    /// <summary>Everything a signal holds, as text (records with lists do not compare by value).</summary>
    private static string Decision(Signal s) =>
        $"{s.Id} {s.Seq} {s.Symbol} {s.Timeframe} {s.Direction} conf={s.Confidence:R} p={s.Probabilities} entry={s.Entry} target={s.Target} stop={s.Stop} " +
        $"rr={s.RiskReward:R} fusion={s.FusionScore:R} models=[{string.Join("; ", s.Models)}] why=[{string.Join("; ", s.Rationale)}] " +
        $"candle={s.CandleOpenTime}-{s.CandleCloseTime} created={s.CreatedAt} expires={s.ExpiresAt} exchange={s.ExchangeTime} received={s.ReceivedAt} published={s.PublishedAt}";
}
