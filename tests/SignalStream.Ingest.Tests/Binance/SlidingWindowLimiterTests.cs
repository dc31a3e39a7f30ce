using System.Diagnostics;
using SignalStream.Ingest.Binance.Internal;

namespace SignalStream.Ingest.Tests.Binance;

public sealed class SlidingWindowLimiterTests
{
    [Fact]
    public async Task TheAcquisitionAfterAFullWindowWaitsTheWindowAndTheArrivalMargin()
    {
        // Two a 100 ms window plus the connection's arrival margin: the third waits until the first is a window and a
        // margin old. The limiter stamps each acquisition before it returns, so this is a lower bound however slow the
        // machine, never a timing threshold.
        var limiter = new SlidingWindowLimiter(2, TimeSpan.FromMilliseconds(100), TimeProvider.System, BinanceConnection.ArrivalMargin);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            await limiter.AcquireAsync();
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(99) + BinanceConnection.ArrivalMargin, $"three acquisitions took {clock.Elapsed.TotalMilliseconds:F0} ms");
    }
}
