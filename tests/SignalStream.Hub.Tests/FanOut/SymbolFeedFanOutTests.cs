using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// A symbol with more subscribers than one worker offers to is fanned out from several threads at once; every
/// subscriber still receives every signal once and in order, and filters still apply.
/// </summary>
public sealed class SymbolFeedFanOutTests
{
    [Fact]
    public async Task ASymbolWithMoreSubscribersThanOneWorkerTakesDeliversEverySignalInOrderToEach()
    {
        const int subscribers = (SymbolFeed.SubscribersPerWorker * 3) + 17;
        const int signals = 60;
        await using var fixture = new FeedFixture();
        var feed = fixture.Feed;
        var pipes = new List<Pipe>();
        for (var i = 0; i < subscribers; i++)
        {
            // Every third subscriber wants only 5m signals: the filter must hold in every worker's share.
            var (state, pipe) = fixture.NewConnection($"c{i}");
            await feed.SubscribeAsync(new SignalSubscription(state, "BTCUSDT", SignalSubscription.MaskOf(i % 3 == 0 ? [Timeframe.FiveMinutes] : Timeframes.All), 0), null, null, ["1m"], CancellationToken.None);
            pipes.Add(pipe);
        }

        for (var seq = 1; seq <= signals; seq++)
        {
            var timeframe = seq % 2 == 0 ? Timeframe.FiveMinutes : Timeframe.OneMinute;
            await feed.PostAsync(new FeedItem(TestSignals.Signal("BTCUSDT", seq, timeframe), null), CancellationToken.None);
        }

        feed.Complete();
        await feed.Loop.WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < subscribers; i++)
        {
            var expected = Enumerable.Range(1, signals).Where(s => i % 3 != 0 || s % 2 == 0).Select(s => (long)s);
            Assert.Equal(expected, (await ReadMessagesAsync(pipes[i])).Select(m => long.Parse(m["signal ".Length..], System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    [Fact]
    public async Task CandlesQueuedTogetherReachEachSubscriberOnceAndInOrderWithTheSignalsBetweenThem()
    {
        // Candles of several timeframes queued behind one another go to each subscriber as one run; a signal between
        // them ends a run. Every subscriber sees its timeframes' candles and the signals, once each, in posted order.
        Timeframe[] timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];
        await using var fixture = new FeedFixture();
        var feed = fixture.Feed;
        var pipes = new List<Pipe>();
        var wants = new List<Timeframe[]>();
        for (var i = 0; i < 6; i++)
        {
            var (state, pipe) = fixture.NewConnection($"c{i}");
            await feed.SubscribeAsync(new SignalSubscription(state, "BTCUSDT", SignalSubscription.MaskOf(Timeframes.All), 0), null, null, ["1m"], CancellationToken.None);
            var want = timeframes.Where((_, t) => (i + t) % 3 != 0).ToArray(); // each a different subset of the four
            foreach (var timeframe in want)
            {
                feed.AddCandleSubscriber(timeframe, state);
            }

            pipes.Add(pipe);
            wants.Add(want);
        }

        var posted = new List<(Timeframe? Timeframe, string Text)>();
        var seq = 0L;
        for (var bar = 0; bar < 50; bar++)
        {
            foreach (var timeframe in timeframes)
            {
                var candle = new CandleMessage("BTCUSDT", timeframe, bar * 60_000L, (bar * 60_000L) + 59_999, 1, 2, 0.5m, 1.5m, bar, IsClosed: true);
                await feed.PostAsync(new FeedItem(null, null, candle), CancellationToken.None);
                posted.Add((timeframe, $"candle {timeframe.ToName()} {bar}"));
            }

            if (bar % 7 == 3)
            {
                await feed.PostAsync(new FeedItem(TestSignals.Signal("BTCUSDT", ++seq, Timeframe.OneMinute), null), CancellationToken.None);
                posted.Add((null, $"signal {seq}"));
            }
        }

        feed.Complete();
        await feed.Loop.WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < pipes.Count; i++)
        {
            var expected = posted.Where(p => p.Timeframe is not { } tf || wants[i].Contains(tf)).Select(p => p.Text);
            Assert.Equal(expected, await ReadMessagesAsync(pipes[i]));
        }
    }

    /// <summary>Every signal and candle invocation written to a connection's pipe so far, as "signal SEQ" or "candle TF BAR".</summary>
    private static async Task<List<string>> ReadMessagesAsync(Pipe toClient)
    {
        await toClient.Writer.CompleteAsync();
        var result = await toClient.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var text = Encoding.UTF8.GetString(result.Buffer.ToArray());
        toClient.Reader.AdvanceTo(result.Buffer.End);
        return text.Split('\u001e', StringSplitOptions.RemoveEmptyEntries)
            .Select(record => System.Text.Json.JsonDocument.Parse(record).RootElement)
            .Where(root => root.TryGetProperty("target", out _))
            .Select(root => root.GetProperty("target").GetString() == HubNames.CandleEvent
                ? $"candle {root.GetProperty("arguments")[0].GetProperty("timeframe").GetString()} {root.GetProperty("arguments")[0].GetProperty("volume").GetDecimal()}"
                : $"signal {root.GetProperty("arguments")[0].GetProperty("seq").GetInt64()}")
            .ToList();
    }

    /// <summary>One symbol's feed with no store, whose subscribers are never slow here, and its connections' pipes.</summary>
    private sealed class FeedFixture : IAsyncDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly CancellationTokenSource _stop = new();
        private readonly SignalHubOptions _options = new();

        public FeedFixture()
        {
            var context = new FeedContext(_options, history: null, new HubMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
                TimeProvider.System, NullLogger.Instance, _ => Assert.Fail("no subscriber is slow here"));
            Feed = new SymbolFeed("BTCUSDT", context, _stop.Token);
        }

        public SymbolFeed Feed { get; }

        /// <summary>A connection on a pipe, and the pipe its client reads.</summary>
        public (ConnectionState State, Pipe ToClient) NewConnection(string id)
        {
            var connection = new PipeHubConnection(id, new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            return (new ConnectionState(connection.Context, _options, TimeProvider.System, _ => { }), connection.ToClient);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _stop.Dispose();
            await _services.DisposeAsync();
        }
    }
}
