using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Hub.Hosting;
using StackExchange.Redis;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// The Redis bus on StackExchange.Redis 3.x against real redis-servers: per-symbol order under load, credentials
/// (requirepass, an ACL user allowed only the signal channels), TLS, and signed messages that an outsider with
/// publish access cannot forge.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisBusTests
{
    private const string Password = "pw-7Hq2xLr9";
    private const string BusKey = "bus-key-4b1d0c3f-9e8a-4f5e-b6a1-2c7d9e0f1a2b";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TwentyThousandSignalsOnOneChannelArriveInOrderWithoutAHoleRepair()
    {
        const int count = 20_000;
        var store = new InMemorySignalHistory();
        var redis = TestServices.Redis;
        string[] settings =
        [
            "Hub:RedisChannelPrefix=t" + Guid.NewGuid().ToString("N")[..8],
            "Hub:CatchUpInterval=01:00:00", // only reordering on the bus could cause a repair
            // The whole burst may sit in the hub's queues at once on a busy machine: none of it may be dropped there
            // (a drop is repaired too) nor may the test's client be cut as slow.
            // 20,000 signals of ~0.8 KB are about 15 MB, past the default 4 MB byte bound of a connection's queue.
            "Hub:InboundQueueLimit=30000", "Hub:OutboundQueueLimit=30000", "Hub:OutboundQueueBytes=67108864", "Hub:SlowConsumerMaxLag=00:02:00",
        ];
        await using var engine = await TestNode.StartAsync(store, "engine", redis, settings);
        await using var hub = await TestNode.StartAsync(store, "hub", redis, settings);
        using var repairs = new NodeCounter(hub, "signalstream_hub_holes_repaired_total");
        await using var client = await hub.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        for (var seq = 1; seq <= count; seq++)
        {
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        var received = await client.NextEventsAsync(HubNames.SignalEvent, count, TimeSpan.FromMinutes(3));
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), received.Select(s => s.GetProperty("seq").GetInt64()));
        Assert.Equal(0, repairs.Value);
    }

    [Fact]
    public async Task NodesWithThePasswordDeliverAcrossNodesAndAreReady()
    {
        await using var redis = await PrivateRedis.StartAsync(password: Password);
        await AssertDeliversAsync($"127.0.0.1:{redis.Port},password={Password}");
    }

    [Fact]
    public async Task AWrongPasswordStopsTheNodeWithAClearErrorThatNeverShowsThePassword()
    {
        await using var redis = await PrivateRedis.StartAsync(password: Password);
        const string wrong = "wrong-9fK3mZ";
        var (error, logs) = await StartFailingAsync($"127.0.0.1:{redis.Port},password={wrong}");

        Assert.Contains($"Could not authenticate to Redis at 127.0.0.1:{redis.Port}", error, StringComparison.Ordinal);
        Assert.Contains("Check password= and user= in ConnectionStrings:Redis", error, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, error, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error, StringComparison.Ordinal);
        Assert.DoesNotContain(logs, l => l.Contains(wrong, StringComparison.Ordinal) || l.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnAclUserAllowedOnlyThePublishAndSubscribeOfTheSignalChannelsRunsTheBus()
    {
        // The rule docs/operations.md gives, for this test's channel prefix.
        var prefix = "t" + Guid.NewGuid().ToString("N")[..8];
        await using var redis = await PrivateRedis.StartAsync(aclUsers:
        [
            "user default off",
            $"user signalstream on >{Password} resetkeys resetchannels &{prefix}:* -@all +publish +subscribe +unsubscribe +ping +echo",
        ]);
        var connection = $"127.0.0.1:{redis.Port},user=signalstream,password={Password}";
        await AssertDeliversAsync(connection, $"Hub:RedisChannelPrefix={prefix}");

        // The same user can neither publish elsewhere nor touch a key.
        using var outsider = await ConnectionMultiplexer.ConnectAsync(connection);
        var elsewhere = await Assert.ThrowsAsync<RedisServerException>(() =>
            outsider.GetSubscriber().PublishAsync(RedisChannel.Literal("other:BTCUSDT"), "{}"));
        Assert.StartsWith("NOPERM", elsewhere.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RedisServerException>(() => outsider.GetDatabase().StringSetAsync("k", "v"));
    }

    [Fact]
    public async Task NodesConnectOverTlsToAServerWhoseCertificateAPrivateCaSigned()
    {
        await using var redis = await PrivateRedis.StartAsync(password: Password, tls: true);
        var connection = $"127.0.0.1:{redis.Port},ssl=true,sslHost=localhost,password={Password}";
        await AssertDeliversAsync(connection, $"Redis:TlsCaFile={redis.CertificateFile}");

        // Without the CA the server cannot be trusted, and the node says what to do instead of starting.
        var (error, _) = await StartFailingAsync(connection);
        Assert.Contains("TLS on", error, StringComparison.Ordinal);
        Assert.Contains("Redis:TlsCaFile", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithABusKeyAPublisherWithoutItCannotInjectSignals()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..8];
        var store = new InMemorySignalHistory();
        string[] settings = [$"Hub:RedisChannelPrefix={prefix}", $"Redis:BusKey={BusKey}", "Hub:CatchUpInterval=01:00:00"];
        await using var engine = await TestNode.StartAsync(store, "engine", TestServices.Redis, settings);
        await using var hub = await TestNode.StartAsync(store, "hub", TestServices.Redis, settings);
        const string refused = "signalstream_bus_messages_refused_total";
        using var allRefused = new NodeCounter(hub, refused);
        using var unsigned = new NodeCounter(hub, refused, new("reason", "unsigned"));
        using var badSignature = new NodeCounter(hub, refused, new("reason", "bad_signature"));
        await using var client = await hub.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        // Anyone who can publish on the channel: a forged signal, plain and with a made-up signature.
        using var intruder = await ConnectionMultiplexer.ConnectAsync(TestServices.Redis);
        var forged = TestSignals.Signal("BTCUSDT", 1) with { Id = "forged", Confidence = 99 };
        var json = "{\"kind\":\"signal\",\"signal\":" + JsonSerializer.Serialize(forged, Contracts.Serialization.ContractsJsonContext.Default.Signal) + "}";
        var channel = RedisChannel.Literal($"{prefix}:BTCUSDT");
        await intruder.GetSubscriber().PublishAsync(channel, json);
        await intruder.GetSubscriber().PublishAsync(channel, "ss1." + new string('A', 43) + "." + json);

        var deadline = DateTime.UtcNow + Timeout;
        while (allRefused.Value < 2 && !client.TryNextEvent(out _))
        {
            Assert.True(DateTime.UtcNow < deadline, "neither refused nor delivered");
            await Task.Delay(20);
        }

        Assert.Equal(1, unsigned.Value);
        Assert.Equal(1, badSignature.Value);

        // The engine, which has the key, is heard; the forgeries never were.
        await engine.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        var delivered = await client.NextEventsAsync(HubNames.SignalEvent, 1);
        Assert.Equal("BTCUSDT-1m-1", delivered[0].GetProperty("id").GetString());
        Assert.False(client.TryNextEvent(out _));
    }

    /// <summary>An engine and a hub node on <paramref name="connection"/>: three signals reach a hub client, and the hub is ready.</summary>
    private static async Task AssertDeliversAsync(string connection, params string[] extra)
    {
        var store = new InMemorySignalHistory();
        string[] settings = [.. extra.Any(e => e.StartsWith("Hub:RedisChannelPrefix", StringComparison.Ordinal)) ? [] : new[] { "Hub:RedisChannelPrefix=t" + Guid.NewGuid().ToString("N")[..8] }, .. extra];
        await using var engine = await TestNode.StartAsync(store, "engine", connection, settings);
        await using var hub = await TestNode.StartAsync(store, "hub", connection, settings);
        await using var client = await hub.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        for (var seq = 1; seq <= 3; seq++)
        {
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        var received = await client.NextEventsAsync(HubNames.SignalEvent, 3);
        Assert.Equal([1L, 2, 3], received.Select(s => s.GetProperty("seq").GetInt64()));
        using var http = hub.Http();
        var ready = await http.GetAsync("/health/ready");
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    /// <summary>Starts a hub node that must fail; returns the error (all messages of the exception chain) and every log line.</summary>
    private static async Task<(string Error, IReadOnlyCollection<string> Logs)> StartFailingAsync(string connection)
    {
        var data = Directory.CreateTempSubdirectory("signalstream-node-").FullName;
        var logs = new ConcurrentQueue<string>();
        var app = SignalStreamHost.Build(
            [$"--Storage:File:Path={data}", "--urls=http://127.0.0.1:0", "--Node:Roles=hub", $"--ConnectionStrings:Redis={connection}"],
            builder => builder.Logging.AddProvider(new CapturingLoggerProvider(logs)));
        try
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync().WaitAsync(Timeout));
            var text = new StringBuilder();
            for (Exception? e = error; e is not null; e = e.InnerException)
            {
                text.Append(e.Message).Append(" | ");
            }

            return (text.ToString(), logs.ToArray());
        }
        finally
        {
            await app.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception) + " " + exception);
        }
    }
}
