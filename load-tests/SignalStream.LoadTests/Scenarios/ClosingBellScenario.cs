using System.Globalization;
using SignalStream.Contracts;
using SignalStream.Testing.FakeExchange;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// The closing bell: a SignalStream node (role <c>all</c>) ingests every stream of the in-process fake Binance exchange;
/// the exchange's clock moves to an instant where 1m, 5m, 15m and 1h all close, so every stream closes at once. Each
/// stream's closed candle must reach each of its subscribers; latency is from the moment the harness told the exchange
/// to close (the exchange event) to the client's receipt. The engine decides signals on the bell's candles (permissive
/// decision settings, so that it does): their delivery is measured the same way, in a second row, and split by the
/// signals' own stamps into ingest (→ <c>receivedAt</c>), engine (→ <c>publishedAt</c>: features, inference, decision)
/// and hub (→ receipt: persistence hand-off, fan-out, network). The node's inference time during the bell is read from
/// its <c>signalstream_inference_duration_seconds</c>.
/// </summary>
internal sealed class ClosingBellScenario
{
    private const int StreamsPerClient = 50; // the hub's default subscriptions per connection
    private static readonly Timeframe[] BellTimeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];
    private readonly LoadTestOptions _options;
    private readonly string _folder;

    public ClosingBellScenario(LoadTestOptions options, string folder)
    {
        _options = options;
        _folder = folder;
    }

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(CancellationToken cancellationToken)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "bell-signalstream")).FullName;
        var symbols = FakeExchangeOptions.GenerateSymbols(_options.BellSymbols);
        var streams = symbols.SelectMany(s => BellTimeframes.Select(t => (Symbol: s, Timeframe: t.ToName()))).ToArray();
        var clientCount = (int)Math.Ceiling(streams.Length * (double)_options.BellFanOut / StreamsPerClient);

        await using var exchange = new FakeBinanceExchange(new FakeExchangeOptions
        {
            Symbols = symbols,
            Timeframes = BellTimeframes,
            Speed = 0,
            Url = "http://127.0.0.1:0",
            // The ingest answers pings itself; keep the fake from dropping a busy node for a late pong.
            PongTimeout = TimeSpan.FromMinutes(10),
        });
        await exchange.StartAsync(cancellationToken);
        await using var farm = new ServerFarm(_options, folder);
        var settings = new Dictionary<string, string>
        {
            ["Ingest:Source"] = "binance",
            ["Ingest:Binance:StreamUrl"] = exchange.StreamUrl,
            ["Ingest:Binance:RestUrl"] = exchange.RestUrl,
            ["Models:Path"] = _options.BellModels switch
            {
                "none" => Directory.CreateDirectory(Path.Combine(folder, "no-models")).FullName,
                "bundled" => Path.Combine(Path.GetDirectoryName(_options.PeerFolder)!, "..", "models"),
                var other => Path.GetFullPath(other),
            },
            // The end-to-end tests' permissive decision settings: the weakly trained bundled models then decide a signal
            // on most closed candles, so the bell carries signals as well as candles.
            ["Signals:MinVoteScore"] = "0.34",
            ["Signals:MinVoteMargin"] = "0",
            ["Signals:RequireFamilyAgreement"] = "false",
            ["Signals:MinRiskReward"] = "0.1",
        };
        for (var i = 0; i < BellTimeframes.Length; i++)
        {
            settings[$"Ingest:Timeframes:{i}"] = BellTimeframes[i].ToName();
        }

        // Binance sends every stream's in-progress kline every ~2 s and the ingest replaces a connection silent for
        // 15 s; the manual clock sends nothing by itself, so tick it like the real exchange for the whole scenario.
        using var ticking = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ticker = Task.Run(async () =>
        {
            try
            {
                while (!ticking.IsCancellationRequested)
                {
                    await Task.Delay(2000, ticking.Token);
                    await exchange.TickAsync(ticking.Token);
                }
            }
            catch (OperationCanceledException)
            {
                // Scenario over.
            }
        }, CancellationToken.None);
        try
        {
            return await RunWithExchangeAsync(exchange, farm, symbols, streams, settings, clientCount, cancellationToken);
        }
        finally
        {
            await ticking.CancelAsync();
            await ticker;
        }
    }

    private async Task<IReadOnlyList<ScenarioResult>> RunWithExchangeAsync(FakeBinanceExchange exchange, ServerFarm farm, IReadOnlyList<string> symbols,
        (string Symbol, string Timeframe)[] streams, Dictionary<string, string> settings, int clientCount, CancellationToken cancellationToken)
    {
        var (node, url) = await farm.StartSignalStreamAsync("node", "all", symbols, settings, cancellationToken);
        await exchange.WaitUntilAsync(e => e.SubscribedStreams >= streams.Length, TimeSpan.FromSeconds(60), "the node to subscribe every stream");

        // Every stream gets BellFanOut subscribers, 50 streams per connection; each client also follows one symbol's signals.
        // Signals: every symbol followed by one client (a few symbols a client), so every signal of the bell is measured.
        var pool = new ClientPool(_options, url, "signalstream", symbols, clientCount, 0, new ClientMeasurement("receivedAt", keepSignalArrivals: true),
            symbolsPerClient: (int)Math.Ceiling(symbols.Count / (double)clientCount));
        try
        {
            var connectSeconds = await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
            await pool.WaitSubscribedAsync(TimeSpan.FromSeconds(60), cancellationToken);
            var wanted = new List<(string, string)>[clientCount];
            for (var k = 0; k < streams.Length * _options.BellFanOut; k++)
            {
                (wanted[k / StreamsPerClient] ??= []).Add(streams[k % streams.Length]);
            }

            await Task.WhenAll(pool.Clients.Select((c, i) => c.SubscribeCandlesAsync(wanted[i] ?? [], cancellationToken)));
            pool.StartPinging();
            await Task.Delay(2000, cancellationToken);

            // Warm-up bell (the clock starts at an aligned instant: the first full bell is an hour of market time away).
            // Wait until the node has caught up with it (the engine runs the models on every closed candle first).
            var warmClosed = await exchange.ClosingBellAsync(cancellationToken);
            var warmClose = warmClosed[0].CloseTime;
            var expectedDeliveries = streams.Length * (long)_options.BellFanOut;
            var warmUntil = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (DateTime.UtcNow < warmUntil && pool.Clients.Sum(c => c.CountClosed(warmClose)) < expectedDeliveries)
            {
                await Task.Delay(200, cancellationToken);
            }

            var warmDelivered = pool.Clients.Sum(c => c.CountClosed(warmClose));
            await Task.Delay(1000, cancellationToken);

            // The measured bells, one after another in this process (--bell-repeats): the node, its clients and the
            // harness's JIT are the same for each, so their spread is the machine's and the node's own.
            var bells = new List<ScenarioResult>();
            for (var bell = 1; bell <= _options.BellRepeats; bell++)
            {
                var (candles, signals) = await MeasureBellAsync(exchange, pool, node, url, symbols, streams, bell, cancellationToken);
                bells.Add(candles);
                bells.Add(signals);
            }

            bells[0].ConnectSeconds = connectSeconds;
            bells[0].ConnectsPerSecond = clientCount / Math.Max(connectSeconds, 0.001);
            bells[0].Notes.Insert(0, $"warm-up bell: {warmDelivered} of {expectedDeliveries} closed candles arrived within 90 s");
            if (bells.Count > 2)
            {
                DescribeRepeats(bells);
            }

            return bells;
        }
        finally
        {
            await pool.DisposeAsync();
        }
    }

    /// <summary>
    /// One measured bell: the exchange's clock advances minute by minute to the next instant where every stream closes
    /// (each minute's 1m closes awaited at the clients first); returns its candles' row and its signals' row.
    /// </summary>
    private async Task<(ScenarioResult Candles, ScenarioResult Signals)> MeasureBellAsync(FakeBinanceExchange exchange, ClientPool pool,
        ManagedProcess node, Uri url, IReadOnlyList<string> symbols, (string Symbol, string Timeframe)[] streams, int bell, CancellationToken cancellationToken)
    {
        var clientCount = pool.Clients.Length;
        var name = _options.BellRepeats > 1 ? $"bell {bell}/{_options.BellRepeats}" : "bell";
        var result = new ScenarioResult { Scenario = name, Target = "signalstream", Clients = clientCount, Symbols = symbols.Count };
        var signals = new ScenarioResult { Scenario = name + " signals", Target = "signalstream", Clients = clientCount, Symbols = symbols.Count };

        foreach (var client in pool.Clients)
        {
            lock (client.ClosedCandles)
            {
                client.ClosedCandles.Clear();
            }
        }

        var sampler = new ProcessSampler(node.Pid, node.Name);
        // The measured bell: advance minute by minute, stamping each advance; the one that closes every stream is it.
        long bellMicros = 0, advanceMicros = 0, buildMicros = 0;
        IReadOnlyList<Candle> closed = [];
        var metricsBefore = await MetricsScrape.ReadAsync(url, cancellationToken);
        // Each minute's 1m closes are awaited at the clients before the next advance, so the bell does not queue
        // behind an hour of market time compressed into a second.
        var perMinute = symbols.Count * (long)_options.BellFanOut;
        while (closed.Count < streams.Length)
        {
            if (closed.Count > 0)
            {
                var minuteClose = closed[0].CloseTime;
                var minuteUntil = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (DateTime.UtcNow < minuteUntil && pool.Clients.Sum(c => c.CountClosed(minuteClose)) < perMinute)
                {
                    await Task.Delay(10, cancellationToken);
                }
            }

            // The node's counters just before each advance: the last read is the one before the bell.
            metricsBefore = await MetricsScrape.ReadAsync(url, cancellationToken);
            await Task.Delay(20, cancellationToken);
            var calledMicros = FanOutClient.NowMicros;
            closed = await exchange.AdvanceAsync(() => bellMicros = FanOutClient.NowMicros, cancellationToken);
            buildMicros = bellMicros - calledMicros;
            advanceMicros = FanOutClient.NowMicros - bellMicros;
            sampler.Sample();
        }

        var bellClose = closed[0].CloseTime;
        var expected = streams.Length * (long)_options.BellFanOut;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < until && pool.Clients.Sum(c => c.CountClosed(bellClose)) < expected)
        {
            await Task.Delay(50, cancellationToken);
            sampler.Sample();
        }

        await Task.Delay(500, cancellationToken);
        var metricsAfter = await MetricsScrape.ReadAsync(url, cancellationToken);
        var histogram = new LatencyHistogram();
        long delivered = 0, distinct = 0;
        long last = 0;
        foreach (var client in pool.Clients)
        {
            var seen = new HashSet<string>();
            (string Stream, long CloseTime, long ReceivedMicros)[] arrivals;
            lock (client.ClosedCandles)
            {
                arrivals = client.ClosedCandles.ToArray();
            }

            foreach (var (stream, closeTime, received) in arrivals)
            {
                if (closeTime != bellClose)
                {
                    continue;
                }

                delivered++;
                if (seen.Add(stream))
                {
                    distinct++;
                }

                histogram.Record(received - bellMicros, client.Id);
                last = Math.Max(last, received);
            }
        }

        var summary = histogram.Summarize();
        result.Expected = expected;
        result.Delivered = delivered;
        result.Published = streams.Length;
        result.Missing = expected - distinct;
        result.Duplicates = delivered - distinct;
        result.SetLatency(summary);
        result.DurationSeconds = Math.Round((last - bellMicros) / 1e6, 3);
        result.DeliveredPerSecond = Math.Round(delivered / Math.Max((last - bellMicros) / 1e6, 0.001));
        result.OfferedPerSecond = result.DeliveredPerSecond;
        result.ServerCpuAveragePercent = Math.Round(sampler.AverageCpuPercent, 1);
        result.ServerCpuPeakPercent = sampler.CpuPercentSamples.DefaultIfEmpty(0).Max();
        result.ServerRssPeakMb = Math.Round(sampler.PeakRssMb, 1);
        foreach (var client in pool.Clients)
        {
            if (!client.Connected)
            {
                result.ClientsLost++;
            }
        }

        result.Errors = pool.Stats.Errors;
        result.ErrorSamples = pool.Stats.ErrorSamples.ToList();
        await using (var probe = await ClientPool.ReadStoredSeqAsync(_options, url, symbols, cancellationToken))
        {
            MeasureSignals(signals, pool, probe, symbols, bellClose, bellMicros);
        }

        DescribeEngine(result, metricsBefore, metricsAfter, bellMicros, last);
        // The fake exchange runs in the harness: latency starts when its frames are built and it begins to write them
        // (a real exchange encodes on its own machines); the writing is part of "ingest" in the split.
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"the in-process fake exchange built the bell's frames in {buildMicros / 1000.0:0.0} ms (before the clock starts) and wrote them in {advanceMicros / 1000.0:0.0} ms"));
        result.Notes.Add($"{streams.Length} streams ({symbols.Count} symbols x 1m,5m,15m,1h) closed at one instant; " +
            $"{expected} closed-candle deliveries expected ({_options.BellFanOut} subscribers a stream), {delivered} arrived; " +
            $"latency = client receipt - the fake exchange's first write of the bell's frames");

        return (result, signals);
    }

    /// <summary>
    /// Several bells in one run: the median of their p99s, candles and signals, with each bell's p99 beside it, as a note
    /// on the last bell's candle row (the issue's "median of five" from one process instead of five).
    /// </summary>
    private static void DescribeRepeats(List<ScenarioResult> bells)
    {
        var ci = CultureInfo.InvariantCulture;
        var candles = bells.Where((_, i) => i % 2 == 0).Select(r => r.P99Ms).ToArray();
        var signals = bells.Where((_, i) => i % 2 == 1).Select(r => r.P99Ms).ToArray();
        string Each(double[] p99s) => string.Join(", ", p99s.Select(p => p.ToString("0.0", ci)));
        bells[^2].Notes.Add(string.Create(ci,
            $"{candles.Length} bells: median p99 of the candles {Median(candles):0.0} ms ({Each(candles)}), of the signals {Median(signals):0.0} ms ({Each(signals)})"));
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// The bell's signals (those decided on a candle closing at the bell): latency from the fake exchange's first write of
    /// the bell's frames to the client's receipt, split by their stamps; seq continuity against the store's last seq of each symbol.
    /// </summary>
    private static void MeasureSignals(ScenarioResult signals, ClientPool pool, ClientPool probe, IReadOnlyList<string> symbols,
        long bellClose, long bellMicros)
    {
        var histogram = new LatencyHistogram();
        var ingest = new LatencyHistogram();
        var engine = new LatencyHistogram();
        var hub = new LatencyHistogram();
        var stored = probe.Clients[0].Ledgers.ToDictionary(l => l.Symbol, l => Math.Max(l.StartSeq, 0));
        long last = bellMicros;
        foreach (var client in pool.Clients)
        {
            SignalArrival[] arrivals;
            lock (client.SignalArrivals!)
            {
                arrivals = client.SignalArrivals.ToArray();
            }

            foreach (var arrival in arrivals.Where(a => a.CandleCloseTimeMs == bellClose))
            {
                signals.Delivered++;
                histogram.Record(arrival.ReceivedMicros - bellMicros, client.Id);
                ingest.Record((arrival.NodeReceivedAtMs * 1000) - bellMicros, client.Id);
                engine.Record((arrival.PublishedAtMs - arrival.NodeReceivedAtMs) * 1000, client.Id);
                hub.Record(arrival.ReceivedMicros - (arrival.PublishedAtMs * 1000), client.Id);
                last = Math.Max(last, arrival.ReceivedMicros);
            }

            foreach (var ledger in client.Ledgers)
            {
                var final = stored.GetValueOrDefault(ledger.Symbol);
                signals.Expected += final - Math.Max(ledger.StartSeq, 0);
                signals.Gaps += ledger.Gaps;
                signals.Duplicates += ledger.Duplicates;
                signals.Missing += ledger.MissingUpTo(final);
            }

            signals.ClientsLost += client.Connected ? 0 : 1;
        }

        var summary = histogram.Summarize();
        signals.SetLatency(summary);
        signals.Published = stored.Values.Sum();
        signals.DurationSeconds = Math.Round((last - bellMicros) / 1e6, 3);
        signals.DeliveredPerSecond = Math.Round(signals.Delivered / Math.Max(signals.DurationSeconds, 0.001));
        signals.OfferedPerSecond = signals.DeliveredPerSecond;
        signals.Errors = pool.Stats.Errors;
        var ci = CultureInfo.InvariantCulture;
        string Split(LatencyHistogram h)
        {
            var s = h.Summarize();
            return string.Create(ci, $"p50 {s.P50:0.0} / p99 {s.P99:0.0} ms");
        }

        signals.Notes.Add(string.Create(ci,
            $"{signals.Delivered} deliveries of signals decided on the bell's candles (each of the {symbols.Count} symbols followed by one client); " +
            $"latency = client receipt - the fake exchange's first write of the bell's frames; split by the signals' stamps (ms resolution): " +
            $"ingest (first write -> node receivedAt) {Split(ingest)}, engine (receivedAt -> publishedAt: features, inference, decision) {Split(engine)}, " +
            $"hub (publishedAt -> client receipt) {Split(hub)}; every subscribed symbol checked for gaps/duplicates up to the store's last seq"));
    }

    /// <summary>What the node's engine spent on inference while the bell was delivered (its Prometheus histogram).</summary>
    private static void DescribeEngine(ScenarioResult result, MetricsScrape before, MetricsScrape after, long bellMicros, long lastMicros)
    {
        const string Inference = "signalstream_inference_duration_seconds";
        var seconds = after.Sum(Inference + "_sum") - before.Sum(Inference + "_sum");
        var runs = after.Sum(Inference + "_count") - before.Sum(Inference + "_count");
        const string Batch = "signalstream_inference_batch_size";
        var batched = after.Sum(Batch + "_sum") - before.Sum(Batch + "_sum");
        var batches = after.Sum(Batch + "_count") - before.Sum(Batch + "_count");
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"engine inference during the measured advance and delivery ({(lastMicros - bellMicros) / 1000.0:0} ms): {runs:0} model runs, " +
            $"{seconds * 1000:0} ms of inference in total (signalstream_inference_duration_seconds), {batches:0} batches of {batched / Math.Max(batches, 1):0.0} windows on average; " +
            $"a request's wait in its model's batcher, p50 / p99 at most (bucket bounds): {QueueDelays(before, after)}"));

        // The collector's share of the window: each collection pauses every thread of the node, the engine's included.
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"the node's collector during the same window: gen0 {GcReading.Collections(after, 0) - GcReading.Collections(before, 0):0}, " +
            $"gen1 {GcReading.Collections(after, 1) - GcReading.Collections(before, 1):0}, gen2 {GcReading.Collections(after, 2) - GcReading.Collections(before, 2):0} collections, " +
            $"paused {(GcReading.PauseSeconds(after) - GcReading.PauseSeconds(before)) * 1000:0} ms in all; managed heap after the last collection " +
            $"{after.Sum("dotnet_gc_last_collection_heap_size_bytes") / 1048576:0} MB; allocated {GcReading.AllocatedBytes(after) - GcReading.AllocatedBytes(before):#,0} bytes " +
            $"(dotnet_gc_heap_total_allocated_bytes_total between the scrapes around the bell)"));

        // A signal is published only after its group commit: the commit wait is the first part of its hub share.
        const string CommitWait = "signalstream_signal_commit_wait_seconds";
        const string Persisted = "signalstream_events_persisted_total";
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"event store during the same window: {after.Sum(Persisted) - before.Sum(Persisted):0} events committed; a signal's wait from " +
            $"its hand-off to the writer to its publication after the commit, p50 / p99 at most (bucket bounds; {CommitWait}): " +
            $"{MetricsScrape.PercentileBetween(before, after, CommitWait, 50) * 1000:0.###} / {MetricsScrape.PercentileBetween(before, after, CommitWait, 99) * 1000:0.###} ms"));
    }

    /// <summary>Per model, from <c>signalstream_inference_queue_delay_seconds{model}</c>: what a candle waited for its batch to run.</summary>
    private static string QueueDelays(MetricsScrape before, MetricsScrape after)
    {
        const string QueueDelay = "signalstream_inference_queue_delay_seconds";
        var models = after.Lines
            .Where(l => l.StartsWith(QueueDelay + "_bucket{", StringComparison.Ordinal))
            .Select(l => l.IndexOf("model=\"", StringComparison.Ordinal) is var i and >= 0 ? l[(i + 7)..l.IndexOf('"', i + 7)] : null)
            .OfType<string>()
            .Distinct()
            .Order(StringComparer.Ordinal);
        var ci = CultureInfo.InvariantCulture;
        var parts = models.Select(model =>
        {
            var filter = $"model=\"{model}\"";
            var p50 = MetricsScrape.PercentileBetween(before, after, QueueDelay, 50, filter) * 1000;
            var p99 = MetricsScrape.PercentileBetween(before, after, QueueDelay, 99, filter) * 1000;
            return string.Create(ci, $"{model} {p50:0.###} / {p99:0.###} ms");
        }).ToArray();
        return parts.Length == 0 ? "not exported" : string.Join(", ", parts);
    }
}
