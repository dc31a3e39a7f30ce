using System.Diagnostics;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using Xunit.Abstractions;
using static SignalStream.Testing.TestSignals;

namespace SignalStream.EventStore.Tests.Postgres;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresOutageCollection
{
    public const string Name = "postgres-outage";
}

/// <summary>
/// PostgreSQL stopped (immediate shutdown) under load and started again on the same port. The outage lasts
/// SIGNALSTREAM_OUTAGE_SECONDS (default 30, as issue 5 asks; set it lower for a quick local run).
/// </summary>
[Collection(PostgresOutageCollection.Name)]
public sealed class PostgresOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] s_symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    private readonly string _schema = TestServices.NewSchema();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => TestStorage.DropSchemaAsync(_schema);

    [Theory]
    [InlineData("postgres")]
    [InlineData("marten")]
    public async Task AnOutageUnderLoadLosesNothingAndWritesNothingTwice(string provider)
    {
        var outage = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("SIGNALSTREAM_OUTAGE_SECONDS"), out var s) ? s : 30);
        await using var host = await EventsHost.StartAsync(new()
        {
            ["Storage:Provider"] = provider,
            ["ConnectionStrings:Postgres"] = TestServices.Postgres,
            ["Storage:Postgres:Schema"] = _schema,
            ["Storage:Marten:Schema"] = _schema,
            ["Storage:Writer:BufferCapacity"] = "2000",
            ["Storage:Writer:MaxBatchSize"] = "500",
            ["Storage:Writer:RetryInitialDelay"] = "00:00:00.050",
            ["Storage:Writer:RetryMaxDelay"] = "00:00:00.500",
            ["Storage:Writer:ShutdownTimeout"] = "00:01:00",
        });

        using var stopProducing = new CancellationTokenSource();
        var pushedBack = 0;
        var produced = 0;
        var producer = Task.Run(async () =>
        {
            var seq = new long[s_symbols.Length];
            for (var i = 0; !stopProducing.IsCancellationRequested; i++)
            {
                var k = i % s_symbols.Length;
                var candle = host.Output.OnCandleAsync(Candle(s_symbols[k], Timeframe.OneMinute, i / s_symbols.Length), default);
                if (!candle.IsCompleted)
                {
                    Interlocked.Increment(ref pushedBack);
                }

                await candle;
                if (i % 4 == 0)
                {
                    var signal = host.Output.OnSignalAsync(Signal(s_symbols[k], ++seq[k]), default);
                    if (!signal.IsCompleted)
                    {
                        Interlocked.Increment(ref pushedBack);
                    }

                    await signal;
                }

                produced = i + 1;
                if (i % 200 == 0)
                {
                    // Paced like a busy closing minute rather than a tight loop, so the run is about the outage.
                    await Task.Delay(1);
                }
            }

            return seq;
        });

        await Task.Delay(TimeSpan.FromSeconds(1));
        var stopwatch = Stopwatch.StartNew();
        await PostgresControl.StopImmediateAsync();
        output.WriteLine($"PostgreSQL stopped after {produced} candles");
        await Task.Delay(outage);
        var pushedBackDuringOutage = Volatile.Read(ref pushedBack);
        await PostgresControl.StartAsync();
        output.WriteLine($"PostgreSQL restarted after {stopwatch.Elapsed}; {pushedBackDuringOutage} enqueues were pushed back");
        await Task.Delay(TimeSpan.FromSeconds(1));
        stopProducing.Cancel();
        var lastSeq = await producer.WaitAsync(TimeSpan.FromMinutes(2));
        await host.StopAsync();

        Assert.True(pushedBackDuringOutage > 0, "the writer should have pushed back on the producer while the buffer was full");
        var totalCandles = 0L;
        for (var k = 0; k < s_symbols.Length; k++)
        {
            var signals = await host.Store.ReadStreamAsync(EventStreams.Signals(s_symbols[k]), 1, 1_000_000);
            Assert.Equal(lastSeq[k], signals.Count);
            Assert.True(signals.Select((e, i) => e.Version == i + 1).All(ok => ok));
            Assert.All(signals, e =>
            {
                Assert.True(EventSerializer.TryDeserialize(e, out var ev, out _));
                Assert.Equal(e.Version, ((SignalIssued)ev).Signal.Seq);
            });

            var candles = await host.Store.ReadStreamAsync(EventStreams.Candles(new StreamKey(s_symbols[k], Timeframe.OneMinute)), 1, 10_000_000);
            Assert.Equal(candles.Count, candles.Select(e => e.EventId).Distinct().Count());
            var openTimes = candles.Select(e => EventSerializer.TryDeserialize(e, out var ev, out _) ? ((CandleClosed)ev).Candle.OpenTime : -1).ToList();
            Assert.Equal(openTimes.Order(), openTimes);
            Assert.Equal(openTimes.Count, openTimes.Distinct().Count());
            totalCandles += candles.Count;
        }

        Assert.Equal(produced, totalCandles);
        output.WriteLine($"{produced} candles and {lastSeq.Sum()} signals persisted exactly once across a {outage.TotalSeconds} s outage");
    }
}

/// <summary>Stops and starts the private PostgreSQL of scripts/test-services.sh (as the postgres user when root).</summary>
internal static class PostgresControl
{
    private const string PgCtl = "/usr/lib/postgresql/15/bin/pg_ctl";

    private static string DataDir => TestServices.PostgresDataDirectory;

    private static int Port => TestServices.PostgresPort;

    public static Task StopImmediateAsync() => RunAsync("-D", DataDir, "-m", "immediate", "-w", "stop");

    public static async Task StartAsync()
    {
        var socketDir = Path.GetDirectoryName(DataDir)!;
        await RunAsync("-D", DataDir, "-l", Path.Combine(socketDir, "server.log"), "-w", "-o",
            $"-p {Port} -c listen_addresses=127.0.0.1 -k {socketDir} -c fsync=on -c max_connections=200", "start");

        // The shared test pool still holds connections to the old server process.
        TestStorage.DataSource.Clear();
    }

    private static async Task RunAsync(params string[] args)
    {
        var asRoot = Environment.UserName == "root";
        var start = new ProcessStartInfo(asRoot ? "runuser" : PgCtl) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (asRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", PgCtl })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_ctl {string.Join(' ', args)} failed ({process.ExitCode}): {await stdout} {await stderr}");
        }
    }
}
