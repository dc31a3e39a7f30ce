using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.Hub.Tests.EndToEnd;

/// <summary>
/// The whole node as production composes it (<c>SignalStreamHost.Build</c> on Kestrel): the simulated market, the real
/// feature pipeline and ONNX models from <c>models/</c>, the signal stage, the file event store and the hub. Nothing is
/// injected: every signal a client sees was produced by the engine.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class EngineEndToEndTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    /// <summary>
    /// The bundled models are weakly trained for now, so with the production thresholds (Signals:MinVoteScore 0.65,
    /// MinVoteMargin 0.15, family agreement required) a signal can take minutes of simulated market. These tests are
    /// about the delivery path, not about model quality: the thresholds are lowered so that most closed candles give a
    /// signal, and a short expiry resolves them within a few candles (600x speed: a 1m candle every 0.1 s).
    /// </summary>
    internal static readonly string[] EngineRun =
    [
        .. TestServer.SimulatedRun,
        "--Ingest:Symbols=BTCUSDT,ETHUSDT",
        "--Ingest:Timeframes=1m,5m",
        "--Signals:MinVoteScore=0.34",
        "--Signals:MinVoteMargin=0",
        "--Signals:RequireFamilyAgreement=false",
        "--Signals:MinRiskReward=0.1",
        "--Signals:ExpiryCandles=4",
        "--Logging:LogLevel:Default=Warning",
    ];

    [Fact]
    public async Task EngineSignalsReachASubscriberInSeqOrderWithOutcomesAndContinueAcrossARestartOnTheSameStore()
    {
        var data = Directory.CreateTempSubdirectory("signalstream-e2e-").FullName;
        try
        {
            long lastSeen;
            long storedBeforeRestart;
            await using (var first = await TestServer.StartOnAsync(data, EngineRun))
            {
                await using var client = await first.ConnectAsync();
                await using var filtered = await first.ConnectAsync();
                await filtered.InvokeAsync("Subscribe", new { symbol = "ETHUSDT", timeframes = new[] { "5m" } });
                var subscribed = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
                var latest = subscribed.GetProperty("latestSeq").GetInt64();

                var (signals, outcomes) = await ReadUntilAsync(client, (s, o) => s.Count >= 5 && o.Count >= 1);
                var seqs = Seqs(signals);
                Assert.Equal(Range(latest + 1, seqs.Length), seqs); // contiguous from the stored latestSeq, in order, once
                Assert.All(signals, s => Assert.Equal("BTCUSDT", s.GetProperty("symbol").GetString()));
                var known = signals.Select(s => s.GetProperty("id").GetString()).ToHashSet();
                Assert.All(outcomes, o => Assert.True(
                    known.Contains(o.GetProperty("signalId").GetString()) || o.GetProperty("signalSeq").GetInt64() <= latest,
                    "an outcome resolves a signal that was published"));
                lastSeen = seqs[^1];

                // The other symbol and a timeframe filter, on the same engine: only ETHUSDT 5m, in seq order, once.
                var (eth, _) = await ReadUntilAsync(filtered, (s, _) => s.Count >= 2);
                Assert.All(eth, s => Assert.Equal(("ETHUSDT", "5m"), (s.GetProperty("symbol").GetString(), s.GetProperty("timeframe").GetString())));
                var ethSeqs = Seqs(eth);
                Assert.Equal(ethSeqs.Order().Distinct(), ethSeqs);

                var groups = await WaitForPerformanceAsync(first);
                Assert.Contains(groups, g => !g.IsShadow && g.Signals > 0);
                Assert.Contains(groups, g => g.IsShadow && g.Signals > 0);

                await first.StopAsync(); // graceful: the event store flushes before the host returns
                foreach (var connected in new[] { client, filtered })
                {
                    var (error, allowReconnect) = await connected.Closed.WaitAsync(Wait);
                    Assert.Contains("shutting down", error);
                    Assert.True(allowReconnect);
                }

                storedBeforeRestart = await first.Services.GetRequiredService<ISignalSequence>()
                    .GetLastSeqAsync("BTCUSDT", CancellationToken.None).AsTask().WaitAsync(Wait);
                Assert.True(storedBeforeRestart >= lastSeen, $"the store has every delivered signal ({storedBeforeRestart} < {lastSeen})");
            }

            await using var second = await TestServer.StartOnAsync(data, EngineRun);
            await using var resumed = await second.ConnectAsync();
            var result = await resumed.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", afterSeq = lastSeen });
            Assert.True(result.GetProperty("recovered").GetBoolean());
            var resumedLatest = result.GetProperty("latestSeq").GetInt64();
            Assert.True(resumedLatest >= storedBeforeRestart, "nothing stored before the restart is forgotten");
            var missed = Seqs(result.GetProperty("signals").EnumerateArray());
            Assert.Equal(Range(lastSeen + 1, (int)(resumedLatest - lastSeen)), missed); // exactly the missed ones

            // Live signals join on seq and the new process numbers on from the stored seq: no reset, no hole.
            var (live, _) = await ReadUntilAsync(resumed, (s, _) => s.Count > 0 && s[^1].GetProperty("seq").GetInt64() > storedBeforeRestart + 1);
            Assert.Equal(Range(resumedLatest + 1, live.Count), Seqs(live));

            using var all = await second.Http.GetAsync(new Uri("/api/signals?symbol=BTCUSDT&afterSeq=0&limit=1000", UriKind.Relative)).WaitAsync(Wait);
            all.EnsureSuccessStatusCode();
            var stored = JsonDocument.Parse(await all.Content.ReadAsStringAsync().WaitAsync(Wait)).RootElement.EnumerateArray().ToList();
            var storedSeqs = Seqs(stored);
            Assert.Equal(Range(storedSeqs[0], storedSeqs.Length), storedSeqs);
            Assert.Equal(storedSeqs.Length, storedSeqs.Distinct().Count());

            // Ids are unique across the restart too. The simulator's market clock restarts at the wall clock's now, so at
            // 600x the second run offers candle times the first run already closed; the stored candle watermarks keep
            // the engine from signalling them twice.
            var repeated = stored.GroupBy(s => s.GetProperty("id").GetString()).Where(g => g.Count() > 1)
                .Select(g => $"{g.Key}: seq {string.Join(",", g.Select(s => s.GetProperty("seq").GetInt64()))}").ToList();
            Assert.True(repeated.Count == 0, "signals stored twice: " + string.Join("; ", repeated));
        }
        finally
        {
            DeleteQuietly(data);
        }
    }

    /// <summary>Reads <c>signal</c> and <c>signalResolved</c> events until <paramref name="done"/> holds.</summary>
    internal static async Task<(List<JsonElement> Signals, List<JsonElement> Outcomes)> ReadUntilAsync(
        HubTestClient client, Func<List<JsonElement>, List<JsonElement>, bool> done)
    {
        var signals = new List<JsonElement>();
        var outcomes = new List<JsonElement>();
        using var deadline = new CancellationTokenSource(Wait);
        while (!done(signals, outcomes))
        {
            deadline.Token.ThrowIfCancellationRequested(); // each read has its own timeout; the deadline bounds the loop
            var (target, argument) = await client.NextEventAsync(Wait);
            if (target == HubNames.SignalEvent)
            {
                signals.Add(argument);
            }
            else if (target == HubNames.SignalResolvedEvent)
            {
                outcomes.Add(argument);
            }
        }

        return (signals, outcomes);
    }

    private static async Task<IReadOnlyList<PerformanceGroup>> WaitForPerformanceAsync(TestServer server)
    {
        using var deadline = new CancellationTokenSource(Wait);
        while (true)
        {
            using var response = await server.Http.GetAsync(new Uri("/api/performance", UriKind.Relative), deadline.Token);
            response.EnsureSuccessStatusCode();
            var report = JsonSerializer.Deserialize(
                await response.Content.ReadAsStringAsync(deadline.Token),
                Contracts.Serialization.ContractsJsonContext.Default.PerformanceReport)!;
            if (report.Groups.Any(g => g.IsShadow && g.Signals > 0) && report.Groups.Any(g => !g.IsShadow && g.Signals > 0))
            {
                return report.Groups;
            }

            // The journal is a projection of the store: poll it (a condition, bounded by the deadline).
            await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token);
        }
    }

    internal static long[] Seqs(IEnumerable<JsonElement> signals) => signals.Select(s => s.GetProperty("seq").GetInt64()).ToArray();

    internal static long[] Range(long from, int count) => Enumerable.Range(0, count).Select(i => from + i).ToArray();

    internal static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the test result is what matters.
        }
    }
}

/// <summary>Whole-engine tests run one at a time: each keeps both cores busy with inference.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end";
}
