using System.Globalization;
using System.Diagnostics;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;
using SignalStream.LoadTests.Workload;
using SignalStream.Testing;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// Steady stream, reconnect storm and slow consumers: the harness plays the engine and publishes signal
/// envelopes to Redis at a fixed rate; the server under test (SignalStream hub nodes, the SignalR peer or the Socket.IO peer)
/// fans them out to the clients. Every server receives the same bytes on the same channels, which is what makes the
/// comparison fair.
/// </summary>
internal sealed class PublishScenario
{
    private readonly LoadTestOptions _options;
    private readonly string _folder;

    public PublishScenario(LoadTestOptions options, string folder)
    {
        _options = options;
        _folder = folder;
    }

    public async Task<ScenarioResult> RunAsync(string scenario, string target, CancellationToken cancellationToken)
    {
        var result = new ScenarioResult { Scenario = scenario, Target = target, Clients = _options.Clients, Symbols = _options.Symbols };
        var symbols = _options.SymbolNames();
        await using var farm = new ServerFarm(_options, Path.Combine(_folder, $"{scenario}-{target}"));
        Directory.CreateDirectory(Path.Combine(_folder, $"{scenario}-{target}"));
        var (redisEndpoint, hubs) = await StartServersAsync(_options, farm, target, symbols, cancellationToken);
        var samplers = hubs.Select(h => new ProcessSampler(h.Process.Pid, h.Process.Name)).ToList();
        var harness = new ProcessSampler(Environment.ProcessId, "harness");
        var baselineRss = hubs.Sum(h => ProcessSampler.ReadRssMb(h.Process.Pid));

        // Clients spread over the nodes the way a load balancer would.
        var pools = hubs.Select((h, n) => new ClientPool(_options, h.Url, target, symbols,
            (_options.Clients / hubs.Count) + (n < _options.Clients % hubs.Count ? 1 : 0), scenario == "slow" ? _options.SlowFraction : 0)).ToList();
        try
        {
            var connectSeconds = 0.0;
            foreach (var pool in pools)
            {
                connectSeconds += await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
            }

            result.ConnectSeconds = connectSeconds;
            result.ConnectsPerSecond = _options.Clients / Math.Max(connectSeconds, 0.001);
            foreach (var pool in pools)
            {
                if (!await pool.WaitSubscribedAsync(TimeSpan.FromSeconds(60), cancellationToken))
                {
                    result.Notes.Add("not every subscription was answered within 60 s");
                }

                pool.StartPinging();
            }

            // Idle memory: every client connected and subscribed, nothing published yet.
            await Task.Delay(3000, cancellationToken);
            var idleRss = hubs.Sum(h => ProcessSampler.ReadRssMb(h.Process.Pid));
            result.IdleKbPerConnection = Math.Round((idleRss - baselineRss) * 1024 / _options.Clients, 1);

            var allClients = pools.SelectMany(p => p.Clients).ToArray();
            foreach (var slow in allClients.Where(c => c.Slow))
            {
                slow.Pause();
            }

            var finalSeq = new long[symbols.Count];
            await using var publisher = new RedisPublisher(redisEndpoint, _options.ChannelPrefix);
            var delivered = () => pools.Sum(p => p.Stats.Delivered);
            var latencyBefore = await WarmUpAsync(scenario, publisher, pools, allClients, symbols, finalSeq, result, cancellationToken);
            var seqBefore = (long[])finalSeq.Clone();
            var startDelivered = delivered();
            var pauses = await GcPauseWindow.StartAsync(target == Targets.SignalStream && hubs.Count == 1 ? hubs[0].Url : null, cancellationToken);
            var windowStart = FanOutClient.NowMicros;
            using var stopPublishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            ProcessSampler[] sampled = [.. samplers, harness];
            var watch = PublishWindow.Start(sampled);
            var publishing = Task.Run(() => PublishAsync(publisher, symbols, finalSeq, _options.Rate, stopPublishing.Token), CancellationToken.None);
            var disruption = scenario switch
            {
                "reconnect" => Task.Run(() => ReconnectStormAsync(pools, result, cancellationToken), CancellationToken.None),
                _ => Task.CompletedTask,
            };

            var last = await PublishWindow.SampleUntilAsync(watch, _options.Duration, delivered, result.DeliveredSeries, sampled, cancellationToken);

            await stopPublishing.CancelAsync();
            var pacing = await publishing;
            var publishSeconds = watch.Elapsed.TotalSeconds;
            result.Notes.Add(pacing.Describe());
            result.Notes.Add(await pauses.DescribeAsync(publishSeconds, cancellationToken));
            await disruption;
            await publisher.FlushAsync(cancellationToken);
            result.Published = publisher.Published;
            result.DurationSeconds = Math.Round(publishSeconds, 1);

            await DrainAsync(allClients, symbols, finalSeq, TimeSpan.FromSeconds(Math.Max(10, _options.Duration)), cancellationToken);

            // Slow consumers read again: those the server cut off now see the close (or the reset) behind their backlog.
            var slowClients = allClients.Where(c => c.Slow).ToArray();
            if (slowClients.Length > 0)
            {
                result.Notes.Add($"slow consumers stopped reading for {publishSeconds:0} s while about {finalSeq.Max()} signals a symbol were published");
                foreach (var slow in slowClients)
                {
                    slow.Resume();
                }

                var slowUntil = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (DateTime.UtcNow < slowUntil && slowClients.Any(c => c.Connected &&
                           c.Ledgers.Any(l => l.Last < finalSeq[IndexOf(symbols, l.Symbol)])))
                {
                    await Task.Delay(200, cancellationToken);
                }
            }

            if (pools.Count == 1)
            {
                result.Notes.Add(pools[0].Stats.Late.Describe(windowStart, FanOutClient.NowMicros));
            }

            var drainedDelivered = delivered() - startDelivered;
            result.Delivered = drainedDelivered;
            result.DeliveredPerSecond = Math.Round((last - startDelivered) / publishSeconds);
            var subscribersPerSymbol = new long[symbols.Count];
            foreach (var client in allClients.Where(c => !c.Slow))
            {
                foreach (var ledger in client.Ledgers)
                {
                    subscribersPerSymbol[IndexOf(symbols, ledger.Symbol)]++;
                }
            }

            result.Expected = Enumerable.Range(0, symbols.Count).Sum(i => (finalSeq[i] - seqBefore[i]) * subscribersPerSymbol[i]);
            result.OfferedPerSecond = Math.Round(result.Expected / publishSeconds);
            Account(result, allClients, symbols, finalSeq);
            var latency = latencyBefore is null ? Merge(pools) : Merge(pools).Since(latencyBefore);
            result.SetLatency(latency);
            result.Recovered = pools.Sum(p => p.Stats.Recovered);
            result.Errors = pools.Sum(p => p.Stats.Errors);
            result.ErrorSamples = pools.SelectMany(p => p.Stats.ErrorSamples).Take(10).ToList();
            result.ServerCpuAveragePercent = Math.Round(samplers.Sum(s => s.AverageCpuPercent), 1);
            result.ServerCpuPeakPercent = samplers.Count == 0 ? 0 : samplers.Max(s => s.CpuPercentSamples.DefaultIfEmpty(0).Max());
            result.ServerRssPeakMb = Math.Round(samplers.Sum(s => s.PeakRssMb), 1);
            result.HarnessCpuAveragePercent = Math.Round(harness.AverageCpuPercent, 1);
            if (target == Targets.SignalStream && hubs.Count == 1)
            {
                result.Notes.Add(await GcReading.DescribeAsync(hubs[0].Url, _options.Clients, cancellationToken));
                // The node's own view of the run (send durations, queued bytes, sweep delay) beside its log.
                var scrape = await MetricsScrape.ReadAsync(hubs[0].Url, cancellationToken);
                await File.WriteAllLinesAsync(Path.Combine(_folder, $"{scenario}-{target}", "hub1.metrics.txt"), scrape.Lines, cancellationToken);
            }
            if (publisher.Resent > 0 || publisher.Lost > 0)
            {
                result.Notes.Add($"{publisher.Resent} publishes failed while Redis was down and were sent again after it returned; {publisher.Lost} dropped (outbox full)");
            }
        }
        finally
        {
            foreach (var pool in pools)
            {
                await pool.DisposeAsync();
            }
        }

        return result;
    }

    /// <summary>
    /// Steady and reconnect: publishes at the run's rate for <see cref="LoadTestOptions.WarmUp"/> seconds and waits for
    /// every client to have it all, so the measured window starts in steady state; returns the latencies so far, which
    /// the window's leave out (null when there was no warm-up).
    /// </summary>
    private async Task<LatencySummary?> WarmUpAsync(string scenario, RedisPublisher publisher, List<ClientPool> pools, FanOutClient[] clients,
        IReadOnlyList<string> symbols, long[] finalSeq, ScenarioResult result, CancellationToken cancellationToken)
    {
        if (_options.WarmUp <= 0 || scenario is not ("steady" or "reconnect"))
        {
            return null;
        }

        using (var warmUp = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            warmUp.CancelAfter(TimeSpan.FromSeconds(_options.WarmUp));
            await PublishAsync(publisher, symbols, finalSeq, _options.Rate, warmUp.Token);
        }

        cancellationToken.ThrowIfCancellationRequested();
        await publisher.FlushAsync(cancellationToken);
        if (!await DrainAsync(clients, symbols, finalSeq, TimeSpan.FromSeconds(30), cancellationToken))
        {
            result.Notes.Add("the warm-up's signals had not all arrived 30 s after it; the window starts anyway");
        }

        var before = Merge(pools);
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"warm-up: {_options.WarmUp:0.#} s at the run's rate before the window ({before.Count} deliveries, p99 {before.P99:0.0} ms), left out of its latencies"));
        return before;
    }

    /// <summary>Starts a fresh Redis and the server under test on it: one SignalStream hub-role node, or one peer.</summary>
    internal static async Task<(string RedisEndpoint, List<(ManagedProcess Process, Uri Url)> Hubs)> StartServersAsync(
        LoadTestOptions options, ServerFarm farm, string target, IReadOnlyList<string> symbols, CancellationToken cancellationToken)
    {
        var redisPort = LoopbackPort.Free();
        var (_, redisEndpoint) = await farm.StartRedisAsync("redis", redisPort, cancellationToken);
        var hubs = new List<(ManagedProcess Process, Uri Url)>();
        switch (target)
        {
            case Targets.SocketIo:
                hubs.Add(await farm.StartSocketIoPeerAsync(redisEndpoint, cancellationToken));
                break;
            case Targets.SignalR:
                hubs.Add(await farm.StartSignalRPeerAsync(redisEndpoint, symbols, cancellationToken));
                break;
            default:
                var settings = new Dictionary<string, string> { ["ConnectionStrings:Redis"] = redisEndpoint, ["Hub:RedisChannelPrefix"] = options.ChannelPrefix };
                hubs.Add(await farm.StartSignalStreamAsync("hub1", "hub", symbols, settings, cancellationToken));
                break;
        }

        await Task.Delay(1000, cancellationToken);
        return (redisEndpoint, hubs);
    }

    /// <summary>Waits until every connected, reading client has the last seq of its symbols; false when
    /// <paramref name="timeout"/> passed first.</summary>
    internal static async Task<bool> DrainAsync(FanOutClient[] clients, IReadOnlyList<string> symbols, long[] finalSeq, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + timeout;
        while (!clients.Where(c => !c.Slow && c.Connected).All(c => c.Ledgers.All(l => l.Last >= finalSeq[IndexOf(symbols, l.Symbol)])))
        {
            if (DateTime.UtcNow >= until)
            {
                return false;
            }

            await Task.Delay(200, cancellationToken);
        }

        return true;
    }

    /// <summary>Publishes <paramref name="rate"/> signals a second, round robin over the symbols, continuing each symbol's
    /// seq from <paramref name="finalSeq"/> (which ends holding the last seq published per symbol).</summary>
    /// <returns>The pacing: the most signals this loop had to send at once to catch up with the rate, and when.</returns>
    internal static async Task<PublishPacing> PublishAsync(RedisPublisher publisher, IReadOnlyList<string> symbols, long[] finalSeq, double rate,
        CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var pacing = new PublishPacing();
        long sent = 0;
        var next = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = (long)(watch.Elapsed.TotalSeconds * rate);
            pacing.Observe(due - sent, watch.Elapsed);
            while (sent < due)
            {
                var symbol = next;
                next = (next + 1) % symbols.Count;
                var seq = ++finalSeq[symbol];
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await publisher.PublishAsync(symbols[symbol], SignalPayloads.Envelope(symbols[symbol], seq, now), CancellationToken.None);
                sent++;
            }

            await publisher.FlushAsync(CancellationToken.None);
            try
            {
                await Task.Delay(2, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await publisher.FlushAsync(CancellationToken.None);
        return pacing;
    }

    /// <summary>A third of the clients drop abruptly at a third of the run and resume with afterSeq (SignalStream) or a
    /// plain re-join (the peers cannot resume: the SignalR peer ignores afterSeq, the Socket.IO client does not send it).</summary>
    private async Task ReconnectStormAsync(List<ClientPool> pools, ScenarioResult result, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(_options.Duration / 3), cancellationToken);
        var watch = Stopwatch.StartNew();
        var dropped = 0;
        foreach (var pool in pools)
        {
            var victims = pool.Clients.Where((c, i) => i % 3 == 0 && c.Connected).ToArray();
            dropped += victims.Length;
            await Task.WhenAll(victims.Select(v => v.DropAsync()));
            await pool.ConnectAsync(victims, resume: true, cancellationToken);
        }

        result.Notes.Add($"reconnect storm: {dropped} clients dropped and resumed in {watch.Elapsed.TotalSeconds:0.0} s");
    }

    internal static void Account(ScenarioResult result, FanOutClient[] clients, IReadOnlyList<string> symbols, long[] finalSeq)
    {
        foreach (var client in clients)
        {
            if (client.Slow)
            {
                result.SlowClients++;
                if (!client.Connected || client.ClosedReason is not null)
                {
                    result.SlowDisconnected++;
                }

                continue;
            }

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
                result.Gaps += ledger.Gaps;
                result.Duplicates += ledger.Duplicates;
                result.Missing += ledger.MissingUpTo(finalSeq[IndexOf(symbols, ledger.Symbol)]);
            }
        }
    }

    internal static int IndexOf(IReadOnlyList<string> symbols, string symbol) => int.Parse(symbol.AsSpan(2, 4)) - 1;

    internal static LatencySummary Merge(List<ClientPool> pools)
    {
        if (pools.Count == 1)
        {
            return pools[0].Stats.Latency.Summarize();
        }

        var summaries = pools.Select(p => p.Stats.Latency).ToArray();
        return LatencyHistogramMerge.Of(summaries);
    }
}
