using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Tests;

public sealed class IngestFreshnessHealthCheckTests
{
    private static readonly StreamKey Btc = new("BTCUSDT", Timeframe.OneMinute);
    private readonly SteppedClock _clock = new();

    [Fact]
    public async Task AQuietSourceMakesTheNodeUnreadyWithTheReasonAndAnUpdateMakesItReadyAgain()
    {
        var channel = new CandleUpdateChannel(16, _clock);
        var check = Check(channel, staleAfterSeconds: 60);

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);

        _clock.Advance(TimeSpan.FromSeconds(61));
        var stale = await CheckAsync(check);
        Assert.Equal(HealthStatus.Unhealthy, stale.Status);
        Assert.Contains("no candle update from binance for 61 s", stale.Description, StringComparison.Ordinal);
        Assert.Contains("Ingest:StaleAfterSeconds", stale.Description, StringComparison.Ordinal);

        channel.WriteProgress(CandleUpdateChannelTests.Progress(Btc, 1));
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);

        _clock.Advance(TimeSpan.FromSeconds(59));
        await channel.WriteClosedAsync(CandleUpdateChannelTests.Closed(Btc, 1));
        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(check)).Status);
    }

    [Fact]
    public async Task ZeroSecondsTurnsTheCheckOff()
    {
        var channel = new CandleUpdateChannel(16, _clock);
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(Check(channel, staleAfterSeconds: 0))).Status);
    }

    [Fact]
    public void ANegativeLimitIsRejectedWithTheKeyName()
    {
        var problems = new IngestOptions { StaleAfterSeconds = -1 }.Validate().ToList();
        Assert.Contains(problems, p => p.Contains("Ingest:StaleAfterSeconds", StringComparison.Ordinal));
    }

    private static IngestFreshnessHealthCheck Check(CandleUpdateChannel channel, int staleAfterSeconds) =>
        new(channel, Options.Create(new IngestOptions { Source = IngestSource.Binance, StaleAfterSeconds = staleAfterSeconds }));

    private static Task<HealthCheckResult> CheckAsync(IngestFreshnessHealthCheck check) =>
        check.CheckHealthAsync(new HealthCheckContext()).WaitAsync(TimeSpan.FromSeconds(10));

    private sealed class SteppedClock : TimeProvider
    {
        private long _ticks = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
