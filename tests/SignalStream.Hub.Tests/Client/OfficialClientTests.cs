using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR.Client;
using SignalStream.Client;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Client;

/// <summary>
/// The .NET client (clients/dotnet, on the official SignalR .NET client) against a real node: an independent check
/// of negotiate, the hub contract, resume and reconnect, written without our own test client's assumptions.
/// </summary>
public sealed class OfficialClientTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static readonly SignalStreamClientOptions FastReconnect = new()
    {
        ReconnectDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250)],
    };

    /// <summary>Both hub protocols (<see cref="SignalStreamClientOptions.Protocol"/>): the same contract, the same order.</summary>
    [Theory]
    [InlineData(SignalStreamProtocol.Json)]
    [InlineData(SignalStreamProtocol.MessagePack)]
    public async Task SubscribeNegotiatesAndDeliversTheSnapshotThenLiveSignalsInOrder(SignalStreamProtocol protocol)
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store);
        for (var seq = 1; seq <= 3; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await using var client = await SignalStreamClient.ConnectAsync(node.BaseAddress, new SignalStreamClientOptions { SkipNegotiation = false, Protocol = protocol });
        var received = new Received();
        await using var subscription = await client.SubscribeAsync("btcusdt", SignalFilter.All, received.Handlers);
        Assert.Equal(protocol.ToString(), Assert.Single(node.Registry().Open).Protocol.ToString());
        for (var seq = 4; seq <= 20; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await received.WaitForSeqAsync(20);
        Assert.Equal((3L, SignalSource.Snapshot), received.All[0]);
        Assert.Equal(Enumerable.Range(3, 18).Select(i => (long)i), received.All.Select(r => r.Seq));
        Assert.All(received.All.Skip(1), r => Assert.Equal(SignalSource.Live, r.Source));
        Assert.Empty(received.Errors);
        Assert.Equal("BTCUSDT", subscription.Symbol);
        Assert.Equal(20, subscription.LastSeq);
    }

    [Theory]
    [InlineData(SignalStreamProtocol.Json)]
    [InlineData(SignalStreamProtocol.MessagePack)]
    public async Task ANetworkCutIsRecoveredWithNothingMissedOrDoubled(SignalStreamProtocol protocol)
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store);
        await using var proxy = new LoopbackProxy(node.BaseAddress);
        await using var client = await SignalStreamClient.ConnectAsync(proxy.BaseAddress, FastReconnect with { Protocol = protocol });
        var received = new Received();
        await using var subscription = await client.SubscribeAsync("BTCUSDT", SignalFilter.All, received.Handlers);
        for (var seq = 1; seq <= 10; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await received.WaitForSeqAsync(10);
        proxy.Cut();
        await WaitUntilAsync(() => client.State != HubConnectionState.Connected);
        for (var seq = 11; seq <= 30; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq)); // missed while the network is down
        }

        proxy.Resume();
        await WaitUntilAsync(() => client.State == HubConnectionState.Connected);
        for (var seq = 31; seq <= 40; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await received.WaitForSeqAsync(40);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), received.All.Select(r => r.Seq));
        Assert.All(received.All.Where(r => r.Seq is > 10 and <= 30), r => Assert.Equal(SignalSource.Recovered, r.Source));
        Assert.Empty(received.Errors);
    }

    [Fact]
    public async Task ANodeRestartBehindTheSameAddressIsResumedFromTheStore()
    {
        var store = new InMemorySignalHistory();
        var first = await TestNode.StartAsync(store);
        await using var proxy = new LoopbackProxy(first.BaseAddress);
        await using var client = await SignalStreamClient.ConnectAsync(proxy.BaseAddress, FastReconnect);
        var received = new Received();
        await using var subscription = await client.SubscribeAsync("ETHUSDT", new SignalFilter(MinConfidence: 50), received.Handlers);
        for (var seq = 1; seq <= 5; seq++)
        {
            await first.PublishAsync(TestSignals.Signal("ETHUSDT", seq));
        }

        await received.WaitForSeqAsync(5);
        await first.DisposeAsync(); // the node goes away; the store keeps what it acknowledged
        for (var seq = 6; seq <= 10; seq++)
        {
            store.Append(TestSignals.Signal("ETHUSDT", seq)); // written by another engine node while this hub was down
        }

        await using var second = await TestNode.StartAsync(store);
        proxy.Target = second.BaseAddress;
        await WaitUntilAsync(() => client.State == HubConnectionState.Connected && proxy.OpenConnections > 0);
        await received.WaitForSeqAsync(10);
        for (var seq = 11; seq <= 15; seq++)
        {
            await second.PublishAsync(TestSignals.Signal("ETHUSDT", seq));
        }

        await received.WaitForSeqAsync(15);
        Assert.Equal(Enumerable.Range(1, 15).Select(i => (long)i), received.All.Select(r => r.Seq));
        Assert.Empty(received.Errors);
    }

    [Fact]
    public async Task AnUnknownSymbolIsRefusedWithTheServersReason()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        await using var client = await SignalStreamClient.ConnectAsync(node.BaseAddress);

        var refusal = await Assert.ThrowsAsync<SubscriptionRefusedException>(() =>
            client.SubscribeAsync("NOPEUSDT", SignalFilter.All, new Received().Handlers).WaitAsync(Wait));

        Assert.Contains("NOPEUSDT", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AProtocolOutsideTheEnumIsRefusedBeforeConnecting()
    {
        var refused = await Assert.ThrowsAsync<ArgumentException>(() =>
            SignalStreamClient.ConnectAsync(new Uri("http://127.0.0.1:1"), new SignalStreamClientOptions { Protocol = (SignalStreamProtocol)7 }));
        Assert.Equal("Protocol", refused.ParamName);
    }

    private static Task WaitUntilAsync(Func<bool> condition) => Poll.UntilAsync(condition, Wait, "what the application saw");

    /// <summary>What the application saw, in order.</summary>
    private sealed class Received
    {
        private readonly ConcurrentQueue<(long Seq, SignalSource Source)> _all = new();
        private long _last;

        public Received() => Handlers = new SignalHandlers
        {
            OnSignal = delivery =>
            {
                _all.Enqueue((delivery.Signal.Seq, delivery.Source));
                Interlocked.Exchange(ref _last, delivery.Signal.Seq);
            },
            OnError = Errors.Enqueue,
        };

        public SignalHandlers Handlers { get; }

        public ConcurrentQueue<Exception> Errors { get; } = new();

        public List<(long Seq, SignalSource Source)> All => [.. _all];

        public async Task WaitForSeqAsync(long seq)
        {
            using var deadline = new CancellationTokenSource(Wait);
            while (Interlocked.Read(ref _last) < seq)
            {
                await Task.Delay(20, deadline.Token);
            }
        }
    }
}
