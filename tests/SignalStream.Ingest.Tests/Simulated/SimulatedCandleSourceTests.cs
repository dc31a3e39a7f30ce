using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Ingest;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Ingest.Tests.Simulated;

public sealed class SimulatedCandleSourceTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSignalStreamIngest(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task WarmUpHistoryComesFirstThenLiveClosesFollowInOrder()
    {
        await using var provider = Build(new()
        {
            ["Ingest:Source"] = "simulated",
            ["Ingest:Symbols:0"] = "BTCUSDT",
            ["Ingest:Symbols:1"] = "ETHUSDT",
            ["Ingest:Timeframes:0"] = "1m",
            ["Ingest:Timeframes:1"] = "5m",
            ["Ingest:WarmupCandles"] = "20",
            ["Ingest:Simulated:Speed"] = "10000",
        });
        var source = provider.GetRequiredService<ICandleSource>();
        Assert.Equal("simulated", source.Exchange);
        var channel = new CandleUpdateChannel();
        using var cts = new CancellationTokenSource();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var run = source.RunAsync(channel, cts.Token);

        var closed = new Dictionary<StreamKey, List<CandleUpdate>>();
        var progress = 0;
        await foreach (var update in channel.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            Assert.Equal("simulated", update.Exchange);
            Assert.InRange(update.EventTime, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Assert.Equal(update.EventTime, update.ReceivedAt);
            if (!update.IsClosed)
            {
                progress++;
                Assert.Equal(CandleOrigin.Simulated, update.Origin);
                continue;
            }

            var list = closed.TryGetValue(update.Candle.Stream, out var l) ? l : closed[update.Candle.Stream] = [];
            list.Add(update);
            if (closed.TryGetValue(new StreamKey("ETHUSDT", Timeframe.FiveMinutes), out var eth5) && eth5.Count >= 23)
            {
                break;
            }
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(4, closed.Count);
        // In-progress updates are skipped by design when the process is behind schedule (a saturated machine at
        // 10000x), so their presence is not asserted here; MarketSimulatorTests checks their content.
        Assert.True(progress >= 0);
        foreach (var (stream, list) in closed)
        {
            Assert.All(list.Take(20), u => Assert.Equal(CandleOrigin.History, u.Origin));
            Assert.All(list.Skip(20), u => Assert.Equal(CandleOrigin.Simulated, u.Origin));
            for (var i = 1; i < list.Count; i++)
            {
                Assert.Equal(stream.Timeframe.NextOpenTime(list[i - 1].Candle.OpenTime), list[i].Candle.OpenTime);
            }
        }
    }

    [Fact]
    public async Task EveryEmittedUpdateCountsAsOneIngestMessageOfTheSimulatedExchange()
    {
        await using var provider = Build(new()
        {
            ["Ingest:Source"] = "simulated",
            ["Ingest:Symbols:0"] = "BTCUSDT",
            ["Ingest:Timeframes:0"] = "1m",
            ["Ingest:WarmupCandles"] = "30",
            ["Ingest:Simulated:Speed"] = "10000",
            ["Ingest:Simulated:ProgressUpdatesPerStep"] = "0", // only closes: none is coalesced, so all are counted here
        });
        using var messages = new IngestMessageCounter(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var channel = provider.GetRequiredService<CandleUpdateChannel>();
        using var cts = new CancellationTokenSource();
        var run = provider.GetRequiredService<ICandleSource>().RunAsync(channel, cts.Token);
        var received = 0;
        await foreach (var update in channel.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            if (++received == 35)
            {
                break;
            }
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
        while (channel.TryRead(out _))
        {
            received++;
        }

        Assert.Equal(received, messages.Count("simulated"));
        Assert.Equal(0, messages.Count("binance"));
    }

    [Theory]
    [InlineData("0", "Speed is 0")]
    [InlineData("-5", "Speed is -5")]
    [InlineData("20000", "at most 10000")]
    public void AnInvalidSpeedIsRejectedWithAMessageThatSaysHowToFixIt(string speed, string expected)
    {
        using var provider = Build(new() { ["Ingest:Source"] = "simulated", ["Ingest:Simulated:Speed"] = speed });
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SimulatedSourceOptions>>().Value);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Simulated:Speed", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Sums <c>signalstream_ingest_messages_total</c> per exchange label, from one service provider's meters only.</summary>
internal sealed class IngestMessageCounter : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new();

    public IngestMessageCounter(System.Diagnostics.Metrics.IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, scope) && instrument.Name == "signalstream_ingest_messages_total")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "exchange")
                {
                    _counts.AddOrUpdate((string)tag.Value!, value, (_, sum) => sum + value);
                }
            }
        });
        _listener.Start();
    }

    public long Count(string exchange) => _counts.TryGetValue(exchange, out var count) ? count : 0;

    public void Dispose() => _listener.Dispose();
}
