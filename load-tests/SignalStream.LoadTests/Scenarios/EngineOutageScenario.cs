using System.Diagnostics;
using System.Globalization;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;
using SignalStream.Testing;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// The Redis outage as production runs it: an engine node (role <c>engine</c>: the simulated market, the real feature
/// pipeline and models, the signal stage) decides signals and persists them into a private PostgreSQL before publishing
/// them on Redis; two hub nodes (role <c>hub</c>) read Redis and repair any hole from the same PostgreSQL. Redis is
/// killed at a third of the run and restarted 2 s later on the same port. Every client's per-symbol seq must stay
/// contiguous with no duplicate: what Redis swallowed must come from the store.
/// </summary>
/// <remarks>
/// The simulator's candle times are market time (ahead of the wall clock at high speed), so latency here is measured
/// from the signal's <c>receivedAt</c>: the wall-clock instant the engine node received the closing candle. It spans the
/// engine (features, inference, decision, persistence), Redis and the hub.
/// </remarks>
internal sealed class EngineOutageScenario
{
    private static readonly ClientMeasurement FromNodeReceipt = new("receivedAt", keepSignalArrivals: false);
    private readonly LoadTestOptions _options;
    private readonly string _folder;

    public EngineOutageScenario(LoadTestOptions options, string folder)
    {
        _options = options;
        _folder = folder;
    }

    public async Task<ScenarioResult> RunAsync(CancellationToken cancellationToken)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "outage-signalstream")).FullName;
        var result = new ScenarioResult { Scenario = "outage", Target = "signalstream", Clients = _options.Clients, Symbols = _options.Symbols };
        var symbols = _options.SymbolNames();
        await using var farm = new ServerFarm(_options, folder);
        var (_, postgres) = await farm.StartPostgresAsync("postgres", cancellationToken);
        var redisPort = LoopbackPort.Free();
        var (redis, redisEndpoint) = await farm.StartRedisAsync("redis", redisPort, cancellationToken);
        var shared = new Dictionary<string, string>
        {
            ["ConnectionStrings:Redis"] = redisEndpoint,
            ["Hub:RedisChannelPrefix"] = _options.ChannelPrefix,
            ["Storage:Provider"] = "postgres",
            ["ConnectionStrings:Postgres"] = postgres,
        };
        var engineSettings = new Dictionary<string, string>(shared)
        {
            ["Ingest:Source"] = "simulated",
            ["Ingest:Simulated:Speed"] = _options.EngineSpeed.ToString(CultureInfo.InvariantCulture),
            ["Ingest:Timeframes:0"] = "1m",
            ["Models:Path"] = Path.Combine(Path.GetDirectoryName(_options.PeerFolder)!, "..", "models"),
            // The bundled models are weakly trained: with the production thresholds a symbol gets a signal every few
            // market minutes. These are the end-to-end tests' permissive settings, so most closed candles decide one.
            ["Signals:MinVoteScore"] = "0.34",
            ["Signals:MinVoteMargin"] = "0",
            ["Signals:RequireFamilyAgreement"] = "false",
            ["Signals:MinRiskReward"] = "0.1",
            ["Signals:ExpiryCandles"] = "4",
        };
        var (engine, _) = await farm.StartSignalStreamAsync("engine", "engine", symbols, engineSettings, cancellationToken);
        var hubs = new List<(ManagedProcess Process, Uri Url)>();
        for (var n = 0; n < 2; n++)
        {
            // Hub:HoleRepairTimeout stays at its default (30 s): a hole must be repaired from the store, not skipped.
            hubs.Add(await farm.StartSignalStreamAsync($"hub{n + 1}", "hub", symbols, shared, cancellationToken));
        }

        var samplers = hubs.Select(h => new ProcessSampler(h.Process.Pid, h.Process.Name)).ToList();
        var engineSampler = new ProcessSampler(engine.Pid, engine.Name);
        var harness = new ProcessSampler(Environment.ProcessId, "harness");
        var pools = hubs.Select((h, n) => new ClientPool(_options, h.Url, "signalstream", symbols,
            (_options.Clients / hubs.Count) + (n < _options.Clients % hubs.Count ? 1 : 0), 0, FromNodeReceipt)).ToList();
        var probes = new List<ClientPool>();
        try
        {
            foreach (var pool in pools)
            {
                result.ConnectSeconds += await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
            }

            result.ConnectsPerSecond = _options.Clients / Math.Max(result.ConnectSeconds, 0.001);
            foreach (var pool in pools)
            {
                if (!await pool.WaitSubscribedAsync(TimeSpan.FromSeconds(60), cancellationToken))
                {
                    result.Notes.Add("not every subscription was answered within 60 s");
                }

                pool.StartPinging();
            }

            // The engine needs a few market minutes of candles before its features are ready: wait for its first signals.
            var delivered = () => pools.Sum(p => p.Stats.Delivered);
            var warmUntil = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (DateTime.UtcNow < warmUntil && delivered() == 0)
            {
                await Task.Delay(250, cancellationToken);
            }

            var startSeq = await StoredSeqAsync(hubs[0].Url, symbols, probes, cancellationToken);
            var allClients = pools.SelectMany(p => p.Clients).ToArray();
            var startDelivered = delivered();
            ProcessSampler[] sampled = [.. samplers, engineSampler, harness];
            var watch = PublishWindow.Start(sampled);
            var outage = Task.Run(() => RedisOutageAsync(farm, redis, redisPort, result, cancellationToken), CancellationToken.None);
            var last = await PublishWindow.SampleUntilAsync(watch, _options.Duration, delivered, result.DeliveredSeries, sampled, cancellationToken);

            await outage;

            // Stop the engine the way an operator does (SIGTERM: the event writer commits what it holds), then read the
            // last stored seq of every symbol: that is what every client must have, contiguously, by the end.
            await engine.InterruptAsync(TimeSpan.FromSeconds(30));
            var publishSeconds = watch.Elapsed.TotalSeconds;
            var finalSeq = await StoredSeqAsync(hubs[0].Url, symbols, probes, cancellationToken);
            var drainUntil = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Max(40, _options.Duration));
            while (DateTime.UtcNow < drainUntil && !allClients.Where(c => c.Connected)
                       .All(c => c.Ledgers.All(l => l.Last >= finalSeq[IndexOf(symbols, l.Symbol)])))
            {
                await Task.Delay(200, cancellationToken);
            }

            double repaired = 0;
            foreach (var hub in hubs)
            {
                repaired += (await MetricsScrape.ReadAsync(hub.Url, cancellationToken)).Sum("signalstream_hub_holes_repaired_total");
            }

            result.Notes.Add($"the hub nodes repaired {repaired:0} signals from PostgreSQL (signalstream_hub_holes_repaired_total, both nodes)");
            result.Published = Enumerable.Range(0, symbols.Count).Sum(i => finalSeq[i] - startSeq[i]);
            result.DurationSeconds = Math.Round(publishSeconds, 1);
            result.Delivered = delivered() - startDelivered;
            result.DeliveredPerSecond = Math.Round((last - startDelivered) / publishSeconds);
            foreach (var client in allClients)
            {
                if (!client.Connected)
                {
                    result.ClientsLost++;
                    if (result.ClientsLost <= 3)
                    {
                        result.Notes.Add($"client {client.Id} lost: {client.ClosedReason ?? "could not (re)connect"}");
                    }
                }

                foreach (var ledger in client.Ledgers)
                {
                    var final = finalSeq[IndexOf(symbols, ledger.Symbol)];
                    result.Expected += final - Math.Max(ledger.StartSeq, 0);
                    result.Gaps += ledger.Gaps;
                    result.Duplicates += ledger.Duplicates;
                    result.Missing += ledger.MissingUpTo(final);
                }
            }

            result.OfferedPerSecond = Math.Round(result.Published / publishSeconds, 1);
            var latency = LatencyHistogramMerge.Of(pools.Select(p => p.Stats.Latency));
            result.SetLatency(latency);
            result.Errors = pools.Sum(p => p.Stats.Errors);
            result.ErrorSamples = pools.SelectMany(p => p.Stats.ErrorSamples).Take(10).ToList();
            result.ServerCpuAveragePercent = Math.Round(samplers.Sum(s => s.AverageCpuPercent), 1);
            result.ServerCpuPeakPercent = samplers.Max(s => s.CpuPercentSamples.DefaultIfEmpty(0).Max());
            result.ServerRssPeakMb = Math.Round(samplers.Sum(s => s.PeakRssMb), 1);
            result.HarnessCpuAveragePercent = Math.Round(harness.AverageCpuPercent, 1);
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"engine node (simulated market at {_options.EngineSpeed}x, {symbols.Count} symbols, 1m, bundled models, permissive decision settings) " +
                $"decided and stored {result.Published} signals in {publishSeconds:0.0} s = {result.OfferedPerSecond:0.0} signals/s " +
                $"(engine CPU {engineSampler.AverageCpuPercent:0} %); two hub nodes repaired holes from the same PostgreSQL; " +
                $"latency = the engine's receipt of the closing candle (receivedAt) -> client"));
        }
        finally
        {
            foreach (var pool in pools.Concat(probes))
            {
                await pool.DisposeAsync();
            }
        }

        return result;
    }

    /// <summary>The store's last seq of every symbol, as a hub node answers a fresh Subscribe (its <c>latestSeq</c>).</summary>
    private async Task<long[]> StoredSeqAsync(Uri hub, IReadOnlyList<string> symbols, List<ClientPool> probes, CancellationToken cancellationToken)
    {
        var probe = await ClientPool.ReadStoredSeqAsync(_options, hub, symbols, cancellationToken);
        probes.Add(probe);
        var seq = new long[symbols.Count];
        foreach (var ledger in probe.Clients[0].Ledgers)
        {
            seq[IndexOf(symbols, ledger.Symbol)] = Math.Max(ledger.StartSeq, 0);
        }

        return seq;
    }

    /// <summary>Kills Redis at a third of the run and starts it again 2 s later on the same port.</summary>
    private async Task RedisOutageAsync(ServerFarm farm, ManagedProcess redis, int port, ScenarioResult result, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(_options.Duration / 3), cancellationToken);
        await redis.StopAsync();
        await Task.Delay(2000, cancellationToken);
        await farm.StartRedisAsync("redis-restarted", port, cancellationToken);
        result.Notes.Add("Redis killed at a third of the run and restarted 2 s later on the same port");
    }

    private static int IndexOf(IReadOnlyList<string> symbols, string symbol) => int.Parse(symbol.AsSpan(2, 4), CultureInfo.InvariantCulture) - 1;
}
