using System.Buffers;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

/// <summary>
/// The slow-consumer sweep on connections whose transports take nothing (pipes nobody reads), on a clock the test
/// moves: stalled connections are cut however many they are; a node whose own sweep ran late (it was behind) holds
/// nothing against its clients until it has kept up for the lag again.
/// </summary>
public sealed class NodeStallTests
{
    private const int ConnectionCount = 60;

    [Fact]
    public async Task AFewStalledConnectionsAmongManyAreCutOff()
    {
        await using var node = new Node();
        var stalled = node.Connections.Take(3).ToList();
        foreach (var connection in stalled)
        {
            Node.Stall(connection);
        }

        node.Time.Advance(TimeSpan.FromSeconds(6));
        node.Registry.CutSlowConsumers();

        Assert.All(stalled, c => Assert.True(c.IsClosing, "a stalled connection is cut off"));
        Assert.All(node.Connections.Skip(3), c => Assert.False(c.IsClosing, "a connection with nothing waiting is left alone"));
    }

    [Fact]
    public async Task EveryStalledConnectionIsCutOffEvenWhenAllOfThemStallAtOnce()
    {
        // Before: more than 50 (and 10 %) stalled at once read as "the node is behind", and nobody was cut.
        await using var node = new Node();
        foreach (var connection in node.Connections)
        {
            Node.Stall(connection);
        }

        node.Time.Advance(TimeSpan.FromSeconds(6));
        node.Registry.CutSlowConsumers();

        Assert.All(node.Connections, c => Assert.True(c.IsClosing, "a stalled connection is cut off, whatever the count"));
    }

    [Fact]
    public async Task ANodeWhoseSweepRanLateCutsNobodyUntilItHasKeptUpForTheLag()
    {
        await using var node = new Node();
        foreach (var connection in node.Connections)
        {
            Node.Stall(connection);
        }

        // The machine froze for 8 s: the sweep runs 8 s late. Stalls during that time are the node's, not the clients'.
        node.Time.Advance(TimeSpan.FromSeconds(8));
        node.Registry.Sweep();
        Assert.All(node.Connections, c => Assert.False(c.IsClosing, "a node that was behind does not cut its readers"));

        // Then it keeps up (a sweep every half second); a client still stalled a lag later is the client's doing.
        for (var i = 0; i < 10; i++)
        {
            node.Time.Advance(TimeSpan.FromSeconds(0.5));
            node.Registry.Sweep();
        }

        Assert.All(node.Connections, c => Assert.False(c.IsClosing, "not before the node has kept up for the whole lag"));
        node.Time.Advance(TimeSpan.FromSeconds(0.5));
        node.Registry.Sweep();
        Assert.All(node.Connections, c => Assert.True(c.IsClosing, "stalled while the node kept up: cut off"));
    }

    [Fact]
    public async Task ConnectionsStalledForLessThanTheLagAreNotCut()
    {
        await using var node = new Node();
        Node.Stall(node.Connections[0]);
        node.Time.Advance(TimeSpan.FromSeconds(4));
        node.Registry.CutSlowConsumers();

        Assert.False(node.Connections[0].IsClosing);
    }

    [Fact]
    public async Task AConnectionWhoseTokenExpiresWhileItsPipeIsStalledIsStillEndedAndItsSlotGivenBack()
    {
        // Before: the expiry's close waited behind the stalled write, and the sweep skipped closing connections, so the
        // connection, its slot and its pipe stayed past the token's end for good.
        await using var node = new Node();
        var connection = node.Connections[0];
        Node.Stall(connection);
        connection.ExpiresAtMs = node.Time.GetUtcNow().AddSeconds(1).ToUnixTimeMilliseconds();

        node.SweepFor(TimeSpan.FromSeconds(30));

        Assert.True(connection.IsClosing, "the expired token's connection was closed");
        await node.AssertEndedAsync(connection, "The access token expired");
    }

    [Fact]
    public async Task AConnectionClosedForFloodingWhileItsPipeIsStalledIsStillEndedAndItsSlotGivenBack()
    {
        await using var node = new Node();
        var connection = node.Connections[0];
        Node.Stall(connection);
        var guard = node.Registry.FindGuard(connection.Id)!;
        for (var i = 0; i < 1_000 && !connection.IsClosing; i++)
        {
            node.Registry.TryAdmitCall(guard); // calls that keep coming after they are refused, from a client that does not read
        }

        Assert.True(connection.IsClosing, "the flooder was closed");
        node.SweepFor(TimeSpan.FromSeconds(30));

        await node.AssertEndedAsync(connection, "Closed for invocation flooding");
    }

    [Fact]
    public async Task ACutThatStartsWhileSignalRsOwnWriteWaitsOnTheTransportStillEndsTheConnection()
    {
        // SignalR's own write (here a ping) holds the connection's write lock while its flush waits on a client that does
        // not read; our frame's write waits for the lock. The cut cancels that flush, which lets our frame's write take
        // the lock and wait in its own flush, with the close behind it. Before: nothing ended that wait, so the cut
        // connection kept its slot and its pipe for good.
        await using var node = new Node();
        var connection = node.Connections[0];
        var signalRsOwn = connection.Context.WriteAsync(Microsoft.AspNetCore.SignalR.Protocol.PingMessage.Instance);
        Assert.False(signalRsOwn.IsCompleted, "SignalR's own write waits on the transport");
        Node.Stall(connection);

        node.SweepFor(TimeSpan.FromSeconds(30));

        Assert.True(connection.IsClosing, "the slow consumer was cut");
        await node.AssertEndedAsync(connection, "slow consumer");
        Assert.Equal([CutReasons.Lag], node.CutReasonsCounted);
    }

    /// <summary>A registry with <see cref="ConnectionCount"/> connections over in-memory pipes that nobody reads.</summary>
    [Fact]
    public async Task PastTheNodesQueuedBytesBoundTheConnectionsHoldingTheMostAreCutUntilTheTotalIsBackUnder()
    {
        // Each queue far under its own bound (4 MiB); together past the node's. Nobody is stalled for the lag.
        await using var node = new Node();
        var (most, middle, least) = (node.Connections[0], node.Connections[1], node.Connections[2]);
        Offer(most, 60);
        Offer(middle, 40);
        Offer(least, 20);
        long Queued(ConnectionState c) => c.Output.QueuedBytes;

        node.Options.Value.MaxQueuedBytes = 0;
        node.Registry.CutOverQueuedBytesBudget();
        Assert.DoesNotContain(node.Connections, c => c.IsClosing);

        node.Options.Value.MaxQueuedBytes = Queued(middle) + Queued(least) + (Queued(most) / 2);
        node.Registry.CutOverQueuedBytesBudget();

        Assert.True(most.IsClosing, "the connection holding the most is cut");
        Assert.False(middle.IsClosing, "once the total is back under the bound, the others are left alone");
        Assert.False(least.IsClosing);
        await node.AssertEndedAsync(most, "Hub:MaxQueuedBytes");
        Assert.Equal([CutReasons.NodeBytes], node.CutReasonsCounted);
    }

    [Fact]
    public async Task PastOneAddresssQueuedBytesBoundItsConnectionsHoldingTheMostAreCutAndOtherAddressesAreLeftAlone()
    {
        // Three connections from one address, the rest from others; the node-wide bound is far away.
        await using var node = new Node(i => i < 3 ? IPAddress.Parse("203.0.113.7") : IPAddress.Parse($"198.51.100.{i}"));
        var (most, middle, least, elsewhere) = (node.Connections[0], node.Connections[1], node.Connections[2], node.Connections[3]);
        Offer(most, 60);
        Offer(middle, 40);
        Offer(least, 20);
        Offer(elsewhere, 50);
        long Queued(ConnectionState c) => c.Output.QueuedBytes;

        node.Options.Value.MaxQueuedBytesPerIp = 0;
        node.Registry.CutOverQueuedBytesBudget();
        Assert.DoesNotContain(node.Connections, c => c.IsClosing);

        node.Options.Value.MaxQueuedBytesPerIp = Queued(middle) + Queued(least) + (Queued(most) / 2);
        node.Registry.CutOverQueuedBytesBudget();

        Assert.True(most.IsClosing, "the address's connection holding the most is cut");
        Assert.False(middle.IsClosing, "once the address is back under its bound, its others are left alone");
        Assert.False(least.IsClosing);
        Assert.False(elsewhere.IsClosing, "another address under the bound is left alone, though all together are over it");
        await node.AssertEndedAsync(most, "Hub:MaxQueuedBytesPerIp");
        Assert.Equal([CutReasons.AddressBytes], node.CutReasonsCounted);
    }

    private static void Offer(ConnectionState connection, int frames)
    {
        for (var i = 1; i <= frames; i++)
        {
            Assert.True(connection.TryEnqueue(HubFrames.Invocation(HubNames.SignalEvent, TestSignals.Signal("BTCUSDT", i), ContractsJsonContext.Default.Signal)));
        }
    }

    private sealed class Node : IAsyncDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly List<PipeReader> _unread = [];
        private readonly MeterListener _cuts = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _cutReasons = new();

        /// <param name="addressOf">Connection i's client address; none when null.</param>
        public Node(Func<int, IPAddress>? addressOf = null)
        {
            var options = Options.Value;
            var meters = _services.GetRequiredService<IMeterFactory>();
            _cuts.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "signalstream_hub_slow_consumer_disconnects_total" && ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _cuts.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        _cutReasons.Enqueue((string)tag.Value!);
                    }
                }
            });
            _cuts.Start();
            var metrics = new HubMetrics(meters);
            Registry = new ConnectionRegistry(Options,
                new ConnectionAdmission(Options, metrics, Time, NullLogger<ConnectionAdmission>.Instance), metrics, Time,
                NullLogger<ConnectionRegistry>.Instance, new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance), _services);
            for (var i = 0; i < ConnectionCount; i++)
            {
                // Any unread byte makes a flush wait, as a full socket does for a client that stopped reading.
                var connection = new PipeHubConnection($"c{i}", new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1, useSynchronizationContext: false));
                // As the admission middleware does for a connect request: the guard carries the client's address.
                ConnectionGuard.Current = addressOf is null ? null : new ConnectionGuard(Registry.NewBudget(), null, addressOf(i), null);
                Connections.Add(Registry.Add(connection.Context));
                ConnectionGuard.Current = null;
                _unread.Add(connection.ToClient.Reader);
                // As SignalR does once a connection's transport has ended: the registry lets it go (and its slot).
                connection.Context.ConnectionAborted.Register(() => _ = Registry.RemoveAsync(connection.Context));
            }
        }

        public ManualTime Time { get; } = new();

        /// <summary>The registry's options, as it reads them on every sweep.</summary>
        public IOptions<SignalHubOptions> Options { get; } = Microsoft.Extensions.Options.Options.Create(new SignalHubOptions { SlowConsumerMaxLag = TimeSpan.FromSeconds(5) });

        public ConnectionRegistry Registry { get; }

        public List<ConnectionState> Connections { get; } = [];

        /// <summary>Offers a frame the connection's transport will not take: its write waits from now on.</summary>
        public static void Stall(ConnectionState connection)
        {
            Assert.True(connection.TryEnqueue(HubFrames.Invocation(HubNames.SignalEvent, TestSignals.Signal("BTCUSDT", 1), ContractsJsonContext.Default.Signal)));
            Assert.NotEqual(0, connection.StalledSince);
        }

        /// <summary>Runs the sweep every half second of the test's clock for <paramref name="duration"/>.</summary>
        public void SweepFor(TimeSpan duration)
        {
            for (var swept = TimeSpan.Zero; swept < duration; swept += TimeSpan.FromSeconds(0.5))
            {
                Time.Advance(TimeSpan.FromSeconds(0.5));
                Registry.Sweep();
            }
        }

        /// <summary>Asserts that <paramref name="connection"/>'s transport was ended, its slot given back, and that its
        /// own close message (<paramref name="reason"/>) was put behind what it did not read.</summary>
        public async Task AssertEndedAsync(ConnectionState connection, string reason)
        {
            var aborted = new TaskCompletionSource();
            await using (connection.Context.ConnectionAborted.Register(() => aborted.TrySetResult()))
            {
                var ended = await Task.WhenAny(aborted.Task, Task.Delay(TimeSpan.FromSeconds(10))) == aborted.Task;
                Assert.True(ended, "a closed connection that does not read is still open: its close waits behind the stalled write");
            }

            for (var i = 0; i < 100 && Registry.Admission.Open != ConnectionCount - 1; i++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(ConnectionCount - 1, Registry.Admission.Open);
            Assert.Null(Registry.Find(connection.Id));
            var reader = _unread[Connections.IndexOf(connection)];
            var sent = await reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains(reason, System.Text.Encoding.UTF8.GetString(sent.Buffer.ToArray()), StringComparison.Ordinal);
            reader.AdvanceTo(sent.Buffer.Start);
        }

        /// <summary>The <c>reason</c> label of each cut <c>signalstream_hub_slow_consumer_disconnects_total</c> counted, in order.</summary>
        public string[] CutReasonsCounted => [.. _cutReasons];

        public async ValueTask DisposeAsync()
        {
            _cuts.Dispose();
            foreach (var connection in Connections)
            {
                connection.Abort();
            }

            foreach (var reader in _unread)
            {
                await reader.CompleteAsync();
            }

            Registry.Dispose();
            await _services.DisposeAsync();
        }
    }
}
