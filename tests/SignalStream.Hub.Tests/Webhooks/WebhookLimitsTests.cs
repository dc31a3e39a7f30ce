using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Tests.Webhooks;

/// <summary>A source's duplicate window and token bucket, on a clock the test moves.</summary>
public class WebhookLimitsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly AlertAnswer Answer = new(Guid.NewGuid(), "tradingview:main", "signal", "buy", "BTCUSDT", "1m") { Seq = 7 };

    [Fact]
    public async Task ARetryRacingTheFirstWaitsForItsAnswerAndARefusedOneIsHandledAfresh()
    {
        var window = new DedupeWindow(new ManualTime(), TimeSpan.FromMinutes(10), capacity: 100);
        Assert.True(window.TryReserve("k", out _));
        Assert.False(window.TryReserve("k", out var pending));
        Assert.False(pending.IsCompleted);
        window.Complete("k", Answer);
        Assert.Equal(Answer, await pending.WaitAsync(Timeout));
        Assert.False(window.TryReserve("k", out var again));
        Assert.Equal(Answer, await again.WaitAsync(Timeout));

        Assert.True(window.TryReserve("refused", out _));
        Assert.False(window.TryReserve("refused", out var waiting));
        window.Abandon("refused");
        Assert.Null(await waiting.WaitAsync(Timeout)); // the waiter goes ahead on its own
        Assert.True(window.TryReserve("refused", out _));
    }

    [Fact]
    public void AnAnswerIsForgottenAfterTheWindowOrWhenTheCapacityIsReached()
    {
        var time = new ManualTime();
        var window = new DedupeWindow(time, TimeSpan.FromMinutes(10), capacity: 2);
        window.TryReserve("a", out _);
        window.Complete("a", Answer);
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.False(window.TryReserve("a", out _));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(window.TryReserve("a", out _));

        window.TryReserve("b", out _);
        window.TryReserve("c", out _);
        Assert.Equal(2, window.Count);
        Assert.True(window.TryReserve("a", out _)); // the oldest went first

        // After a restart: an alert received 9 minutes ago is remembered for the 1 minute left; one of 11 minutes is not.
        var restarted = new DedupeWindow(time, TimeSpan.FromMinutes(10), capacity: 100);
        Assert.True(restarted.Remember("old", Answer, TimeSpan.FromMinutes(9)));
        Assert.False(restarted.Remember("older", Answer, TimeSpan.FromMinutes(11)));
        Assert.False(restarted.TryReserve("old", out _));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(restarted.TryReserve("old", out _));
    }

    [Fact]
    public void TheBucketRefusesPastTheBurstAndSaysWhenTheNextTokenComes()
    {
        var time = new ManualTime();
        var limiter = new SourceRateLimiter(time, perMinute: 6, burst: 2);
        Assert.True(limiter.TryTake(out _));
        Assert.True(limiter.TryTake(out _));
        Assert.False(limiter.TryTake(out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(10), retryAfter);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(limiter.TryTake(out _));
        Assert.False(limiter.TryTake(out _));
    }
}
