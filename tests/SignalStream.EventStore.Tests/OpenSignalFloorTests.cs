using SignalStream.EventStore.Internal;
using static SignalStream.Testing.TestSignals;

namespace SignalStream.EventStore.Tests;

public sealed class OpenSignalFloorTests
{
    private static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public void RetentionStopsJustBeforeTheOldestOpenSignalAndMovesOnWhenItResolves()
    {
        var floor = new OpenSignalFloor(TimeSpan.FromDays(1));
        var first = Signal("BTCUSDT", 1) with { ExpiresAt = Now + 3_600_000 };
        var second = Signal("ETHUSDT", 1) with { ExpiresAt = Now + 3_600_000 };
        floor.Issued(first, position: 10);
        floor.Issued(second, position: 20);

        Assert.Equal(9, floor.ReleasableUpTo(consumed: 100, Now));
        Assert.Equal(5, floor.ReleasableUpTo(consumed: 5, Now));

        floor.Resolved(first.Id);
        Assert.Equal(19, floor.ReleasableUpTo(consumed: 100, Now));

        floor.Resolved(second.Id);
        Assert.Equal(100, floor.ReleasableUpTo(consumed: 100, Now));
        Assert.Equal(0, floor.Count);
    }

    [Fact]
    public void ASignalExpiredLongerThanTheGraceWithoutAnOutcomeNoLongerHoldsRetention()
    {
        // Its symbol no longer ingested: no candle will ever resolve it.
        var floor = new OpenSignalFloor(TimeSpan.FromDays(1));
        floor.Issued(Signal("BTCUSDT", 1) with { ExpiresAt = Now - TimeSpan.FromDays(2).Ticks / TimeSpan.TicksPerMillisecond }, position: 10);
        floor.Issued(Signal("BTCUSDT", 2) with { ExpiresAt = Now - 60_000 }, position: 30);

        Assert.Equal(29, floor.ReleasableUpTo(consumed: 100, Now));
    }
}
