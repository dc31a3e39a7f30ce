using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Tests.Client;

/// <summary>
/// The official SignalR .NET client with <c>AddMessagePackProtocol()</c> against a real node, beside a JSON client: the
/// same signals, outcomes and candles, every contract field intact, in seq order; resume by afterSeq; the node's close
/// reasons readable. Both send paths: the node's own socket writes and SignalR's pipe.
/// </summary>
public sealed class MessagePackClientTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MessagePackAndJsonClientsReceiveTheSameSignalsOutcomesAndCandlesInSeqOrder(bool directSocketSends)
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store, settings: [$"Hub:DirectSocketSends={directSocketSends}"]);
        var published = Enumerable.Range(1, 3).Select(Full).ToList();
        foreach (var signal in published)
        {
            await node.PublishAsync(signal);
        }

        await using var messagePack = await Listener.ConnectAsync(node, messagePack: true);
        await using var json = await Listener.ConnectAsync(node, messagePack: false);
        Assert.Equal(
            [WireProtocol.MessagePack, WireProtocol.Json],
            node.Registry().Open.OrderBy(c => c.Protocol == WireProtocol.Json).Select(c => c.Protocol));

        var (messagePackJoin, jsonJoin) = (await messagePack.SubscribeAsync(afterSeq: 0), await json.SubscribeAsync(afterSeq: 0));
        Assert.Equal(Json(jsonJoin), Json(messagePackJoin));
        Assert.Equal(published.Select(Json), messagePackJoin.Signals.Select(Json));

        for (var seq = 4; seq <= 40; seq++)
        {
            var signal = Full(seq);
            published.Add(signal);
            await node.PublishAsync(signal);
        }

        var outcome = TestSignals.Outcome(published[^1]) with { Outcome = OutcomeKind.Loss, ExitPrice = 0.00012345m, RMultiple = -1 };
        await node.PublishOutcomeAsync(outcome);
        var candles = new[]
        {
            TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, 1, closed: false),
            TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, 1),
        };
        foreach (var candle in candles)
        {
            await node.PublishCandleAsync(candle);
        }

        foreach (var listener in new[] { messagePack, json })
        {
            var live = await listener.Signals(37);
            Assert.Equal(published.Skip(3).Select(Json), live.Select(Json)); // seq 4..40, in order, every field
            Assert.Equal(Json(outcome), Json(await listener.Outcome()));
            Assert.Equal(candles.Select(c => Json(CandleMessage.From(c))), (await listener.Candles(2)).Select(Json));
        }
    }

    [Fact]
    public async Task AMessagePackResumeWithAfterSeqReturnsExactlyWhatWasMissedThenTheLiveSignals()
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store);
        for (var seq = 1; seq <= 10; seq++)
        {
            await node.PublishAsync(Full(seq));
        }

        await using var client = await Listener.ConnectAsync(node, messagePack: true);
        var join = await client.SubscribeAsync(afterSeq: 4);
        await node.PublishAsync(Full(11));

        Assert.True(join.Recovered);
        Assert.Equal(10, join.LatestSeq);
        Assert.Equal(Enumerable.Range(5, 6).Select(i => (long)i), join.Signals.Select(s => s.Seq));
        Assert.Equal(Json(Full(11)), Json(Assert.Single(await client.Signals(1))));
    }

    [Fact]
    public async Task ANodeShuttingDownTellsAMessagePackClientWhyInItsCloseMessage()
    {
        var node = await TestNode.StartAsync(new InMemorySignalHistory());
        await using var client = await Listener.ConnectAsync(node, messagePack: true);
        await client.SubscribeAsync(afterSeq: null);

        await node.DisposeAsync();

        var error = await client.Closed.WaitAsync(Wait);
        Assert.NotNull(error);
        Assert.Contains("shutting down", error.Message, StringComparison.Ordinal);
        Assert.Contains("afterSeq", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every field set, none at its default: a field lost or mistyped on either protocol shows.</summary>
    private static Signal Full(int seq) => TestSignals.Signal("BTCUSDT", seq) with
    {
        Entry = 97_123.12345678m + seq,
        Target = 99_000.5m,
        Stop = 0.00001234m,
        Confidence = 81.25,
        RiskReward = 1.75,
        FusionScore = 66.5,
        PublishedAt = TestSignals.BaseTime + (seq * 60_000) + 60_005,
        Source = seq % 3 == 0 ? SignalSources.TradingView("desk") : SignalSources.Ensemble,
        Timeframe = seq % 2 == 0 ? Timeframe.OneMinute : Timeframe.OneHour,
        Rationale = ["LSTM and PatchTST agree", $"signal {seq}"],
        Models =
        [
            new ModelVote("lstm-direction", "1.2.0", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.15, 0.75)),
            new ModelVote("patchtst-direction", "0.9.1", "patchtst", "flat", 0.4, new ClassProbabilities(0.2, 0.5, 0.3)) { IsShadow = seq % 2 == 0 },
        ],
    };

    private static string Json(Signal signal) => JsonSerializer.Serialize(signal, ContractsJsonContext.Default.Signal);

    private static string Json(SignalOutcome outcome) => JsonSerializer.Serialize(outcome, ContractsJsonContext.Default.SignalOutcome);

    private static string Json(CandleMessage candle) => JsonSerializer.Serialize(candle, ContractsJsonContext.Default.CandleMessage);

    private static string Json(SubscribeResult result) => JsonSerializer.Serialize(result, ContractsJsonContext.Default.SubscribeResult);

    /// <summary>An official-client connection that collects what the node sends it, typed as the contracts.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly HubConnection _connection;
        private readonly Channel<Signal> _signals = Channel.CreateUnbounded<Signal>();
        private readonly Channel<SignalOutcome> _outcomes = Channel.CreateUnbounded<SignalOutcome>();
        private readonly Channel<CandleMessage> _candles = Channel.CreateUnbounded<CandleMessage>();
        private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Listener(HubConnection connection)
        {
            _connection = connection;
            connection.On<Signal>(HubNames.SignalEvent, s => _signals.Writer.TryWrite(s));
            connection.On<SignalOutcome>(HubNames.SignalResolvedEvent, o => _outcomes.Writer.TryWrite(o));
            // Only the test's candles (at TestSignals' fixed times, years back): the node's own simulated market streams
            // BTCUSDT at today's time, and its warm-up closes can reach a subscriber since ingest starts after the host.
            connection.On<CandleMessage>(HubNames.CandleEvent, c =>
            {
                if (c.OpenTime < TestSignals.BaseTime + TimeSpan.FromDays(365).Ticks / TimeSpan.TicksPerMillisecond)
                {
                    _candles.Writer.TryWrite(c);
                }
            });
            connection.Closed += error =>
            {
                _closed.TrySetResult(error);
                return Task.CompletedTask;
            };
        }

        public Task<Exception?> Closed => _closed.Task;

        public static async Task<Listener> ConnectAsync(TestNode node, bool messagePack)
        {
            var builder = new HubConnectionBuilder().WithUrl(new Uri(node.BaseAddress, HubNames.Path));
            if (messagePack)
            {
                builder.AddMessagePackProtocol();
            }

            var listener = new Listener(builder.Build());
            await listener._connection.StartAsync().WaitAsync(Wait);
            return listener;
        }

        public async Task<SubscribeResult> SubscribeAsync(long? afterSeq)
        {
            var result = await _connection.InvokeAsync<SubscribeResult>(HubNames.Subscribe, new SubscribeRequest("BTCUSDT", AfterSeq: afterSeq)).WaitAsync(Wait);
            await _connection.InvokeAsync(HubNames.SubscribeCandles, "BTCUSDT", "1m").WaitAsync(Wait);
            return result;
        }

        public Task<List<Signal>> Signals(int count) => Take(_signals, count);

        public async Task<SignalOutcome> Outcome() => (await Take(_outcomes, 1))[0];

        public Task<List<CandleMessage>> Candles(int count) => Take(_candles, count);

        public async ValueTask DisposeAsync() => await _connection.DisposeAsync();

        private static async Task<List<T>> Take<T>(Channel<T> channel, int count)
        {
            var taken = new List<T>(count);
            using var deadline = new CancellationTokenSource(Wait);
            while (taken.Count < count)
            {
                taken.Add(await channel.Reader.ReadAsync(deadline.Token));
            }

            return taken;
        }
    }
}
