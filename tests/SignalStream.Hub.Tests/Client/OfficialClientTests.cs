using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Logging;
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

    /// <summary>The client's log event for a resume it asks for again (SignalStreamClient.Log.RecoveryIncomplete).</summary>
    private const int RecoveryIncompleteEvent = 9006;

    /// <summary>
    /// Candles of the 2090s, published once the node's simulated market has started (<see cref="TestNode.WaitForSimulatedMarketAsync"/>):
    /// its candles, at wall time, are then all older, and the event writer skips them.
    /// </summary>
    private const long FutureCandles = 4_000_000_000_000;

    private const string CandleSymbol = "BTCUSDT";

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

    /// <summary>
    /// Live candles are not replayed: the closed ones sent while the client is cut off are fetched from /api/candles after
    /// the reconnect, through the same proxy, and come before the live ones, once each, in openTime order.
    /// </summary>
    [Fact]
    public async Task ClosedCandlesClosedWhileTheClientIsCutOffArriveAfterTheReconnectOnceEachInOrder()
    {
        await using var node = await TestNode.StartAsync(store: null); // the file store the event writer fills
        await node.WaitForSimulatedMarketAsync(CandleSymbol, Timeframe.OneMinute);
        await using var proxy = new LoopbackProxy(node.BaseAddress);
        await using var client = await SignalStreamClient.ConnectAsync(proxy.BaseAddress, FastReconnect);
        var closed = new ConcurrentQueue<long>();
        var errors = new ConcurrentQueue<Exception>();
        await using var candles = await client.SubscribeCandlesAsync(CandleSymbol, "1m", new CandleHandlers
        {
            OnCandle = c =>
            {
                if (c.IsClosed && c.OpenTime >= FutureCandles)
                {
                    closed.Enqueue(c.OpenTime);
                }
            },
            OnError = errors.Enqueue,
        });
        for (var minute = 1; minute <= 5; minute++)
        {
            await node.PublishCandleAsync(FutureCandle(minute));
        }

        await WaitUntilAsync(() => closed.Count == 5);
        proxy.Cut();
        await WaitUntilAsync(() => client.State != HubConnectionState.Connected);
        for (var minute = 6; minute <= 15; minute++)
        {
            await node.PublishCandleAsync(FutureCandle(minute)); // sent live to nobody; stored by the event writer
        }

        using var http = node.Http();
        var api = new SignalStreamApi(http);
        using (var deadline = new CancellationTokenSource(Wait))
        {
            // The writer commits in the background: the cut's candles are all stored before the client comes back.
            while ((await api.GetCandlesAsync(CandleSymbol, "1m", FutureCandle(14).Candle.OpenTime, cancellationToken: deadline.Token)).Count == 0)
            {
                await Task.Delay(20, deadline.Token);
            }
        }

        proxy.Resume();
        await WaitUntilAsync(() => client.State == HubConnectionState.Connected);
        for (var minute = 16; minute <= 18; minute++)
        {
            await node.PublishCandleAsync(FutureCandle(minute));
        }

        await WaitUntilAsync(() => closed.Count >= 18);
        Assert.Equal(Enumerable.Range(1, 18).Select(m => FutureCandle(m).Candle.OpenTime), closed);
        Assert.Empty(errors);
    }

    /// <summary>Outcomes resume by outcomeSeq (<c>afterOutcomeSeq</c>) as signals by seq: none lost, none doubled.</summary>
    [Theory]
    [InlineData(SignalStreamProtocol.Json)]
    [InlineData(SignalStreamProtocol.MessagePack)]
    public async Task OutcomesResolvedWhileTheClientIsCutOffArriveAfterTheReconnectOnceEachInOrder(SignalStreamProtocol protocol)
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store);
        await using var proxy = new LoopbackProxy(node.BaseAddress);
        await using var client = await SignalStreamClient.ConnectAsync(proxy.BaseAddress, FastReconnect with { Protocol = protocol });
        var received = new Received();
        await using var subscription = await client.SubscribeAsync("BTCUSDT", SignalFilter.All, received.Handlers);
        var signals = Enumerable.Range(1, 8).Select(seq => TestSignals.Signal("BTCUSDT", seq)).ToArray();
        foreach (var signal in signals[..6])
        {
            await node.PublishAsync(signal);
        }

        await node.PublishOutcomeAsync(TestSignals.Outcome(signals[0], outcomeSeq: 1));
        await node.PublishOutcomeAsync(TestSignals.Outcome(signals[1], OutcomeKind.Loss, outcomeSeq: 2));
        await received.WaitForOutcomeSeqAsync(2);
        proxy.Cut();
        await WaitUntilAsync(() => client.State != HubConnectionState.Connected);
        for (var i = 2; i < 6; i++)
        {
            await node.PublishOutcomeAsync(TestSignals.Outcome(signals[i], outcomeSeq: i + 1)); // resolved while the network is down
        }

        proxy.Resume();
        await WaitUntilAsync(() => client.State == HubConnectionState.Connected);
        await node.PublishAsync(signals[6]);
        await node.PublishAsync(signals[7]);
        await node.PublishOutcomeAsync(TestSignals.Outcome(signals[6], outcomeSeq: 7));
        await node.PublishOutcomeAsync(TestSignals.Outcome(signals[7], outcomeSeq: 8));

        await received.WaitForOutcomeSeqAsync(8);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), received.Outcomes.Select(o => o.OutcomeSeq));
        Assert.Equal(signals.Select(s => s.Id), received.Outcomes.Select(o => o.SignalId));
        Assert.Empty(received.Errors);
    }

    [Fact]
    public async Task OutcomesPastTheServersResumeLimitAreAskedForAgainThenReportedAsAnOutcomeGap()
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store, settings: ["Hub:MaxRecoverySignals=3"]);
        await using var proxy = new LoopbackProxy(node.BaseAddress);
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        var options = FastReconnect with
        {
            RecoveryRetryDelays = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10)],
            LoggerFactory = loggerFactory,
        };
        await using var client = await SignalStreamClient.ConnectAsync(proxy.BaseAddress, options);
        var received = new Received();
        await using var subscription = await client.SubscribeAsync("BTCUSDT", SignalFilter.All, received.Handlers);
        var signals = Enumerable.Range(1, 6).Select(seq => TestSignals.Signal("BTCUSDT", seq)).ToArray();
        foreach (var signal in signals)
        {
            await node.PublishAsync(signal); // all live: only the outcomes are missed
        }

        await node.PublishOutcomeAsync(TestSignals.Outcome(signals[0], outcomeSeq: 1));
        await received.WaitForOutcomeSeqAsync(1);
        proxy.Cut();
        await WaitUntilAsync(() => client.State != HubConnectionState.Connected);
        for (var i = 1; i < 6; i++)
        {
            await node.PublishOutcomeAsync(TestSignals.Outcome(signals[i], outcomeSeq: i + 1)); // 5 missed, the server returns 3
        }

        proxy.Resume();
        await WaitUntilAsync(() => !received.Errors.IsEmpty);

        var gap = Assert.IsType<OutcomeGapException>(Assert.Single(received.Errors)).Gap;
        Assert.Equal(("BTCUSDT", 1L, 6L), (gap.Symbol, gap.AfterOutcomeSeq, gap.LatestOutcomeSeq));
        Assert.Contains("resume limit", gap.Reason, StringComparison.Ordinal);
        Assert.Equal([1L, 4, 5, 6], received.Outcomes.Select(o => o.OutcomeSeq));
        var retries = logs.Entries.Where(e => e.EventId == RecoveryIncompleteEvent).ToArray();
        Assert.Equal(options.RecoveryRetryDelays.Count, retries.Length); // asked again, with the same resume point, before reporting
        Assert.All(retries, e => Assert.Contains("AfterOutcomeSeq=1;", e.State, StringComparison.Ordinal));
        Assert.Equal(6, subscription.LastSeq);
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

    private static CandleUpdate FutureCandle(long minute)
    {
        var update = TestSignals.Candle(CandleSymbol, Timeframe.OneMinute, minute);
        return update with { Candle = update.Candle with { OpenTime = update.Candle.OpenTime + FutureCandles, CloseTime = update.Candle.CloseTime + FutureCandles } };
    }

    private static Task WaitUntilAsync(Func<bool> condition) => Poll.UntilAsync(condition, Wait, "what the application saw");

    /// <summary>What the application saw, in order.</summary>
    private sealed class Received
    {
        private readonly ConcurrentQueue<(long Seq, SignalSource Source)> _all = new();
        private readonly ConcurrentQueue<SignalOutcome> _outcomes = new();
        private long _last;
        private long _lastOutcome;

        public Received() => Handlers = new SignalHandlers
        {
            OnSignal = delivery =>
            {
                _all.Enqueue((delivery.Signal.Seq, delivery.Source));
                Interlocked.Exchange(ref _last, delivery.Signal.Seq);
            },
            OnResolved = outcome =>
            {
                _outcomes.Enqueue(outcome);
                Interlocked.Exchange(ref _lastOutcome, outcome.OutcomeSeq);
            },
            OnError = Errors.Enqueue,
        };

        public SignalHandlers Handlers { get; }

        public ConcurrentQueue<Exception> Errors { get; } = new();

        public List<(long Seq, SignalSource Source)> All => [.. _all];

        public List<SignalOutcome> Outcomes => [.. _outcomes];

        public async Task WaitForSeqAsync(long seq)
        {
            using var deadline = new CancellationTokenSource(Wait);
            while (Interlocked.Read(ref _last) < seq)
            {
                await Task.Delay(20, deadline.Token);
            }
        }

        public async Task WaitForOutcomeSeqAsync(long outcomeSeq)
        {
            using var deadline = new CancellationTokenSource(Wait);
            while (Interlocked.Read(ref _lastOutcome) < outcomeSeq)
            {
                await Task.Delay(20, deadline.Token);
            }
        }
    }
}
