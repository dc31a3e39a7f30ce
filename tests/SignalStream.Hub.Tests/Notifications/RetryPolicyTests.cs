using System.Net.Http.Headers;
using SignalStream.Hub.Notifications.Internal;

namespace SignalStream.Hub.Tests.Notifications;

public sealed class RetryPolicyTests
{
    private static readonly RetrySettings Settings = new(8, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(4, 8)]
    [InlineData(5, 16)]
    [InlineData(6, 30)]
    [InlineData(60, 30)]
    public void BackoffDoublesUpToTheCapAndKeepsARandomHalf(int attempt, double nominalSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(nominalSeconds / 2), RetryPolicy.Delay(Settings, attempt, null, random: 0));
        Assert.Equal(TimeSpan.FromSeconds(nominalSeconds), RetryPolicy.Delay(Settings, attempt, null, random: 1));
    }

    [Fact]
    public void RetryAfterIsAFloorCappedByMaxRetryAfter()
    {
        Assert.Equal(TimeSpan.FromSeconds(20), RetryPolicy.Delay(Settings, 1, TimeSpan.FromSeconds(20), random: 1));
        Assert.Equal(TimeSpan.FromSeconds(30), RetryPolicy.Delay(Settings, 6, TimeSpan.FromSeconds(3), random: 1));
        Assert.Equal(TimeSpan.FromMinutes(10), RetryPolicy.Delay(Settings, 1, TimeSpan.FromHours(2), random: 0));
    }

    [Fact]
    public void RetryAfterIsReadAsSecondsOrADateAndOnlyFor429And503()
    {
        var now = new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromSeconds(7), RetryPolicy.RetryAfter(429, new RetryConditionHeaderValue(TimeSpan.FromSeconds(7)), now));
        Assert.Equal(TimeSpan.FromSeconds(90), RetryPolicy.RetryAfter(503, new RetryConditionHeaderValue(now.AddSeconds(90)), now));
        Assert.Null(RetryPolicy.RetryAfter(503, new RetryConditionHeaderValue(now.AddSeconds(-5)), now));
        Assert.Null(RetryPolicy.RetryAfter(500, new RetryConditionHeaderValue(TimeSpan.FromSeconds(7)), now));
        Assert.Null(RetryPolicy.RetryAfter(429, null, now));
        Assert.Equal(TimeSpan.FromSeconds(1.5), RetryPolicy.Seconds("1.5"));
        Assert.Null(RetryPolicy.Seconds("soon"));
    }

    [Theory]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(429, true)]
    [InlineData(408, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(404, false)]
    [InlineData(410, false)]
    [InlineData(302, false)]
    public void OnlyBusyOrBrokenReceiversAreTriedAgain(int status, bool transient) => Assert.Equal(transient, RetryPolicy.IsTransient(status));
}
