using SignalStream.Contracts;
using SignalStream.FakeExchange;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// The closing bell: a SignalStream node (role <c>all</c>) ingests every stream of the in-process fake Binance exchange;
/// the exchange's clock moves to an instant where 1m, 5m, 15m and 1h all close, so every stream closes at once. Each
/// stream's closed candle must reach each of its subscribers; latency is from the moment the harness told the exchange
/// to close (the exchange event) to the client's receipt. Signals the engine decides on the way are checked for seq.
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

    public async Task<ScenarioResult> RunAsync(CancellationToken cancellationToken)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "bell-signalstream")).FullName;
        var symbols = FakeExchangeOptions.GenerateSymbols(_options.BellSymbols);
        var streams = symbols.SelectMany(s => BellTimeframes.Select(t => (Symbol: s, Timeframe: t.ToName()))).ToArray();
        var clientCount = (int)Math.Ceiling(streams.Length * (double)_options.BellFanOut / StreamsPerClient);
        var result = new ScenarioResult { Scenario = "bell", Target = "signalstream", Clients = clientCount, Symbols = symbols.Count };

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
            ["Models:Path"] = Path.Combine(Path.GetDirectoryName(_options.PeerFolder)!, "..", "models"),
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
            return await RunWithExchangeAsync(exchange, farm, symbols, streams, settings, result, cancellationToken);
        }
        finally
        {
            await ticking.CancelAsync();
            await ticker;
        }
    }

    private async Task<ScenarioResult> RunWithExchangeAsync(FakeBinanceExchange exchange, ServerFarm farm, IReadOnlyList<string> symbols,
        (string Symbol, string Timeframe)[] streams, Dictionary<string, string> settings, ScenarioResult result, CancellationToken cancellationToken)
    {
        var clientCount = result.Clients;
        var (node, url) = await farm.StartSignalStreamAsync("node", "all", symbols, settings, cancellationToken);
        await exchange.WaitUntilAsync(e => e.SubscribedStreams >= streams.Length, TimeSpan.FromSeconds(60), "the node to subscribe every stream");
        var sampler = new ProcessSampler(node.Pid, node.Name);

        // Every stream gets BellFanOut subscribers, 50 streams per connection; each client also follows one symbol's signals.
        var pool = new ClientPool(_options, url, "signalstream", symbols, clientCount, 0);
        try
        {
            result.ConnectSeconds = await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
            result.ConnectsPerSecond = clientCount / Math.Max(result.ConnectSeconds, 0.001);
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
            result.Notes.Add($"warm-up bell: {warmDelivered} of {expectedDeliveries} closed candles arrived within 90 s");
            await Task.Delay(1000, cancellationToken);
            foreach (var client in pool.Clients)
            {
                lock (client.ClosedCandles)
                {
                    client.ClosedCandles.Clear();
                }
            }

            // The measured bell: advance minute by minute, stamping each advance; the one that closes every stream is it.
            long bellMicros = 0;
            IReadOnlyList<Candle> closed = [];
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

                await Task.Delay(20, cancellationToken);
                bellMicros = FanOutClient.NowMicros;
                closed = await exchange.AdvanceAsync(cancellationToken);
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
            result.LatencyCount = summary.Count;
            result.P50Ms = summary.P50;
            result.P90Ms = summary.P90;
            result.P99Ms = summary.P99;
            result.P999Ms = summary.P999;
            result.MaxMs = summary.Max;
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

                foreach (var ledger in client.Ledgers)
                {
                    result.Gaps += ledger.Gaps;
                    result.Duplicates += ledger.Duplicates;
                }
            }

            result.Recovered = pool.Stats.Delivered; // signals the engine decided during the run (seq-checked above)
            result.Errors = pool.Stats.Errors;
            result.ErrorSamples = pool.Stats.ErrorSamples.ToList();
            result.Notes.Add($"{streams.Length} streams ({symbols.Count} symbols x 1m,5m,15m,1h) closed at one instant; " +
                $"{expected} closed-candle deliveries expected ({_options.BellFanOut} subscribers a stream), {delivered} arrived; " +
                $"latency = client receipt - the harness's call that closed them; {pool.Stats.Delivered} engine signals seq-checked");
        }
        finally
        {
            await pool.DisposeAsync();
        }

        return result;
    }
}
