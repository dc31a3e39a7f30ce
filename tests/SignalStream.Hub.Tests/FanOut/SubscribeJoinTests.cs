using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.EventStore;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// How a Subscribe whose store read is slow joins the live stream (unit tests on one <see cref="SymbolFeed"/> with a store
/// whose reads the test holds): delivery goes on during the read, and the join takes from the ring what was delivered
/// meanwhile, or reads again when the ring no longer reaches back that far. The whole node with a held PostgreSQL is
/// Hostile/StoreUnavailableTests.
/// </summary>
public sealed class SubscribeJoinTests : IAsyncDisposable
{
    private const string Symbol = "BTCUSDT";
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly CancellationTokenSource _stop = new();
    private readonly HeldHistory _store = new();
    private readonly SymbolFeed _feed;

    public SubscribeJoinTests()
    {
        var options = new SignalHubOptions { RecentSignalsPerSymbol = 3 };
        var meters = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var reader = new SignalHistoryReader(_store, Options.Create(new SignalHistoryOptions()), TimeProvider.System, meters, NullLogger<SignalHistoryReader>.Instance);
        var context = new FeedContext(options, reader, new HubMetrics(meters),
            TimeProvider.System, NullLogger.Instance, _ => Assert.Fail("no subscriber is slow here"));
        _feed = new SymbolFeed(Symbol, context, _stop.Token);
    }

    [Fact]
    public async Task DeliveryGoesOnDuringTheReadAndTheRingSuppliesWhatWasDeliveredMeanwhile()
    {
        await PublishAsync(1, 5, Timeframe.OneMinute);
        var (subscriber, pipe) = Subscriber();
        _store.HoldReads();
        var subscribing = _feed.SubscribeAsync(subscriber, 0, null, ["1m"], CancellationToken.None).AsTask();
        await _store.ReadHeld.WaitAsync(TimeSpan.FromSeconds(20)); // it read 1..5 and waits

        await PublishAsync(6, 8, Timeframe.OneMinute);
        Assert.False(subscribing.IsCompleted);
        _store.ReleaseReads();
        var result = await subscribing.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(result.Recovered);
        Assert.Equal(8, result.LatestSeq);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), result.Signals.Select(s => s.Seq));
        Assert.Equal(1, _store.RangeReads);
        await PublishAsync(9, 9, Timeframe.OneMinute);
        Assert.Equal([9L], await ReadSeqsAsync(pipe));
    }

    [Fact]
    public async Task WhenMoreWasDeliveredDuringTheReadThanTheRingHoldsTheStoreIsReadAgain()
    {
        await PublishAsync(1, 5, Timeframe.OneMinute);
        var (subscriber, pipe) = Subscriber();
        _store.HoldReads();
        var subscribing = _feed.SubscribeAsync(subscriber, 1, null, ["1m"], CancellationToken.None).AsTask(); // the ring has 3..5
        await _store.ReadHeld.WaitAsync(TimeSpan.FromSeconds(20));

        await PublishAsync(6, 10, Timeframe.OneMinute); // the ring of three now starts at 8
        _store.ReleaseReads();
        var result = await subscribing.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(result.Recovered);
        Assert.Equal(Enumerable.Range(2, 9).Select(i => (long)i), result.Signals.Select(s => s.Seq));
        Assert.Equal(2, _store.RangeReads);
        await PublishAsync(11, 11, Timeframe.OneMinute);
        Assert.Equal([11L], await ReadSeqsAsync(pipe));
    }

    [Fact]
    public async Task WithoutAfterSeqTheLatestPerTimeframeIncludesWhatWasDeliveredDuringTheRead()
    {
        await PublishAsync(1, 1, Timeframe.OneMinute);
        await PublishAsync(2, 2, Timeframe.FiveMinutes);
        var (subscriber, pipe) = Subscriber();
        _store.HoldReads();
        var subscribing = _feed.SubscribeAsync(subscriber, null, null, ["1m", "5m"], CancellationToken.None).AsTask();
        await _store.ReadHeld.WaitAsync(TimeSpan.FromSeconds(20)); // it read {1m: 1, 5m: 2}

        await PublishAsync(3, 3, Timeframe.OneMinute);
        _store.ReleaseReads();
        var result = await subscribing.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(3, result.LatestSeq);
        Assert.Equal([2L, 3], result.Signals.Select(s => s.Seq));
        await PublishAsync(4, 4, Timeframe.FiveMinutes);
        Assert.Equal([4L], await ReadSeqsAsync(pipe));
    }

    public async ValueTask DisposeAsync()
    {
        _store.ReleaseReads();
        _feed.Complete();
        await _stop.CancelAsync();
        _stop.Dispose();
        await _services.DisposeAsync();
    }

    /// <summary>Stores and posts signals <paramref name="from"/>..<paramref name="to"/>, and waits until the feed delivered them.</summary>
    private async Task PublishAsync(long from, long to, Timeframe timeframe)
    {
        for (var seq = from; seq <= to; seq++)
        {
            var signal = TestSignals.Signal(Symbol, seq, timeframe);
            _store.Inner.Append(signal);
            await _feed.PostAsync(new FeedItem(signal, null), CancellationToken.None);
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (_feed.DeliveredSeq < to)
        {
            await Task.Delay(10, deadline.Token);
        }
    }

    private static (SignalSubscription Subscription, Pipe ToClient) Subscriber()
    {
        var connection = new PipeHubConnection("c1", new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var state = new ConnectionState(connection.Context, new SignalHubOptions(), TimeProvider.System, _ => { });
        return (new SignalSubscription(state, Symbol, SignalSubscription.MaskOf(Timeframes.All), 0), connection.ToClient);
    }

    /// <summary>The seqs of the signal invocations the connection has been sent, read once the first has arrived.</summary>
    private static async Task<List<long>> ReadSeqsAsync(Pipe toClient)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var read = await toClient.Reader.ReadAsync(deadline.Token);
            var text = Encoding.UTF8.GetString(read.Buffer.ToArray());
            var end = text.LastIndexOf('\u001e');
            if (end < 0)
            {
                toClient.Reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                continue;
            }

            toClient.Reader.AdvanceTo(read.Buffer.GetPosition(Encoding.UTF8.GetByteCount(text[..(end + 1)])));
            return text[..end].Split('\u001e', StringSplitOptions.RemoveEmptyEntries)
                .Select(record => JsonDocument.Parse(record).RootElement.GetProperty("arguments")[0].GetProperty("seq").GetInt64())
                .ToList();
        }
    }

    /// <summary>The in-memory store, whose next reads take their answer at once and then wait until released.</summary>
    private sealed class HeldHistory : ISignalHistory
    {
        private TaskCompletionSource _released = Completed();
        private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemorySignalHistory Inner { get; } = new();

        public int RangeReads { get; private set; }

        public Task ReadHeld => _held.Task;

        public void HoldReads()
        {
            _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public void ReleaseReads() => _released.TrySetResult();

        public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken) => Inner.GetLastSeqAsync(symbol, cancellationToken);

        public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken) => Inner.GetLastOutcomeSeqAsync(symbol, cancellationToken);

        public ValueTask<IReadOnlyList<SignalOutcome>> ReadOutcomesAsync(string symbol, long afterOutcomeSeq, int limit, CancellationToken cancellationToken) =>
            Inner.ReadOutcomesAsync(symbol, afterOutcomeSeq, limit, cancellationToken);

        public ValueTask<IReadOnlyList<Candle>> ReadCandlesAsync(StreamKey stream, long afterOpenTime, int limit, CancellationToken cancellationToken) =>
            Inner.ReadCandlesAsync(stream, afterOpenTime, limit, cancellationToken);

        public async ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken)
        {
            RangeReads++;
            return await HoldAsync(await Inner.ReadSignalsAsync(symbol, afterSeq, limit, cancellationToken), cancellationToken);
        }

        public async ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken) =>
            await HoldAsync(await Inner.ReadLatestSignalsAsync(symbol, cancellationToken), cancellationToken);

        private async Task<IReadOnlyList<Signal>> HoldAsync(IReadOnlyList<Signal> answer, CancellationToken cancellationToken)
        {
            var released = _released.Task;
            if (!released.IsCompleted)
            {
                _held.TrySetResult();
                await released.WaitAsync(cancellationToken);
            }

            return answer;
        }

        private static TaskCompletionSource Completed()
        {
            var done = new TaskCompletionSource();
            done.SetResult();
            return done;
        }
    }
}
