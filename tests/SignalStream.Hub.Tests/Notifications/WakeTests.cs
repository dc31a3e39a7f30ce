using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Hub.Notifications;
using SignalStream.Hub.Notifications.Internal;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>What the engine's publish path pays for notifications: a wake-up, which must not allocate.</summary>
public sealed class WakeTests
{
    [Fact]
    public async Task WakingTheSinksOnThePublishPathAllocatesNothing()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            var services = new ServiceCollection().AddLogging().AddMetrics();
            services.AddSignalStreamEvents(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:File:Path"] = data }).Build());
            await using var provider = services.BuildServiceProvider();
            var options = Options.Create(new NotificationsOptions
            {
                Sinks =
                {
                    ["a"] = new SinkOptions { Type = "webhook", Url = "http://127.0.0.1:9/a", Secret = "0123456789abcdef" },
                    ["b"] = new SinkOptions { Type = "slack", Url = "http://127.0.0.1:9/b", Symbols = ["BTCUSDT"] },
                },
            });
            var service = new NotificationService(
                options,
                ["BTCUSDT", "ETHUSDT"],
                provider.GetRequiredService<IEventStore>(),
                new NotificationMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
                TimeProvider.System,
                NullLoggerFactory.Instance);
            await using (service)
            {
                await service.StartAsync(CancellationToken.None).WaitAsync(NotificationNode.Wait);
                for (var i = 0; i < 1_000; i++)
                {
                    service.Published("BTCUSDT"); // warm: first calls may fill lazy state
                }

                Assert.Equal(0, LeastAllocatedOfThree(() =>
                {
                    for (var i = 0; i < 100_000; i++)
                    {
                        service.Published(i % 2 == 0 ? "BTCUSDT" : "ETHUSDT");
                    }
                }));

                // Each of these finds the sinks' readers asleep again (a signal every few milliseconds, not a burst):
                // waking a sleeping reader costs the publish path nothing either.
                Assert.Equal(0, LeastAllocatedOfThree(() =>
                {
                    for (var i = 0; i < 300; i++)
                    {
                        Thread.Sleep(2);
                        service.Published("BTCUSDT");
                    }
                }));
                await service.StopAsync(CancellationToken.None).WaitAsync(NotificationNode.Wait);
            }
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    /// <summary>
    /// The fewest bytes the calling thread allocated in up to three runs of <paramref name="publish"/> (stopping at a clean
    /// one). A wake hands the sleeping reader's continuation to the thread pool, whose queue now and then grows a segment
    /// on the waking thread when the machine is loaded (1,920 bytes once, beside benchmarks); an allocation on every
    /// wake would show in all three runs.
    /// </summary>
    private static long LeastAllocatedOfThree(Action publish)
    {
        var least = long.MaxValue;
        for (var run = 0; run < 3 && least != 0; run++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            publish();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
