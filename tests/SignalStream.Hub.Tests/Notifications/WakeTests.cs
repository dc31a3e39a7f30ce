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

                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < 100_000; i++)
                {
                    service.Published(i % 2 == 0 ? "BTCUSDT" : "ETHUSDT");
                }

                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

                // Each of these finds the sinks' readers asleep again (a signal every few milliseconds, not a burst):
                // waking a sleeping reader costs the publish path nothing either.
                before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < 300; i++)
                {
                    Thread.Sleep(2);
                    service.Published("BTCUSDT");
                }

                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
                await service.StopAsync(CancellationToken.None).WaitAsync(NotificationNode.Wait);
            }
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }
}
