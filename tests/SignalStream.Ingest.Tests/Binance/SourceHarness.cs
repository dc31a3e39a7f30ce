using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Testing.FakeExchange;
using SignalStream.Ingest.Binance;

namespace SignalStream.Ingest.Tests.Binance;

/// <summary>A fake exchange, a Binance source pointed at it, and a reader that records everything the source delivers.</summary>
internal sealed class SourceHarness : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<StreamKey, List<CandleUpdate>> _closed = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly ServiceProvider _services;
    private readonly HttpClient _http;
    private Task? _run;
    private Task? _read;
    private long _progress;

    private SourceHarness(FakeBinanceExchange fake, BinanceCandleSource source, CandleUpdateChannel channel, ServiceProvider services,
        HttpClient http, MetricRecorder metrics)
    {
        _http = http;
        Metrics = metrics;
        Fake = fake;
        Source = source;
        Channel = channel;
        _services = services;
    }

    public FakeBinanceExchange Fake { get; }

    public BinanceCandleSource Source { get; }

    public CandleUpdateChannel Channel { get; }

    /// <summary>The source's counters (<c>signalstream_ingest_*</c>), summed by name and tags.</summary>
    public MetricRecorder Metrics { get; }

    /// <summary>Connections replaced for <paramref name="reason"/> (a <c>reason</c> label of <c>signalstream_ingest_reconnects_total</c>).</summary>
    public long Reconnects(string reason) => Metrics.Sum("signalstream_ingest_reconnects_total", "reason=" + reason);

    public long Rejected(string reason) => Metrics.Sum("signalstream_ingest_frames_rejected_total", "reason=" + reason);

    public Exception? RunFailure => _run?.Exception;

    /// <summary>Whether any connection's task has ended while the source runs (it never should).</summary>
    public bool AnyConnectionEnded => Source.ConnectionTasks.Any(t => t.IsCompleted);

    public long ProgressUpdates => Interlocked.Read(ref _progress);

    public static async Task<SourceHarness> StartAsync(FakeExchangeOptions fakeOptions, Action<BinanceOptions>? configure = null,
        int warmup = 3, IReadOnlyList<string>? symbols = null, IStreamResumePoints? resumePoints = null, int resumeBackfill = 1000)
    {
        var fake = new FakeBinanceExchange(fakeOptions);
        await fake.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var options = new BinanceOptions
        {
            StreamUrl = fake.StreamUrl,
            RestUrl = fake.RestUrl,
            ReconnectDelayMin = TimeSpan.FromMilliseconds(20),
            ReconnectDelayMax = TimeSpan.FromMilliseconds(200),
            NoDataTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        var ingest = new IngestOptions
        {
            Source = IngestSource.Binance,
            Symbols = [.. symbols ?? fakeOptions.Symbols],
            Timeframes = fakeOptions.Timeframes.Select(t => t.ToName()).ToList(),
            WarmupCandles = warmup,
            ResumeBackfillCandles = resumeBackfill,
        };
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var channel = new CandleUpdateChannel(4096);
        var http = new HttpClient();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        var metrics = new MetricRecorder(meterFactory);
        var source = new BinanceCandleSource(ingest, options, http, TimeProvider.System, meterFactory, channel, NullLogger.Instance, resumePoints);
        var harness = new SourceHarness(fake, source, channel, services, http, metrics);
        harness._read = Task.Run(harness.ReadAsync);
        harness._run = Task.Run(() => source.RunAsync(channel, harness._stop.Token));
        return harness;
    }

    public IReadOnlyList<CandleUpdate> ClosedOf(StreamKey stream)
    {
        lock (_lock)
        {
            return _closed.TryGetValue(stream, out var list) ? list.ToArray() : [];
        }
    }

    public IReadOnlyDictionary<StreamKey, CandleUpdate[]> AllClosed()
    {
        lock (_lock)
        {
            return _closed.ToDictionary(p => p.Key, p => p.Value.ToArray());
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds over the delivered closed candles.</summary>
    public async Task WaitForAsync(Func<SourceHarness, bool> condition, TimeSpan timeout, string what, Func<Task>? whileWaiting = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (_run is { IsFaulted: true })
            {
                throw new InvalidOperationException("The source failed.", _run.Exception);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}.");
            }

            if (whileWaiting is not null)
            {
                await whileWaiting().WaitAsync(TimeSpan.FromSeconds(10));
            }

            await Task.Delay(20);
        }
    }

    private async Task ReadAsync()
    {
        await foreach (var update in Channel.ReadAllAsync())
        {
            if (!update.IsClosed)
            {
                Interlocked.Increment(ref _progress);
                continue;
            }

            lock (_lock)
            {
                if (!_closed.TryGetValue(update.Candle.Stream, out var list))
                {
                    _closed[update.Candle.Stream] = list = [];
                }

                list.Add(update);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            try
            {
                await _run.WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        Channel.Complete();
        if (_read is not null)
        {
            await _read.WaitAsync(TimeSpan.FromSeconds(15));
        }

        await Fake.DisposeAsync();
        Metrics.Dispose();
        await _services.DisposeAsync();
        _http.Dispose();
        _stop.Dispose();
    }
}
