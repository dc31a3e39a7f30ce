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
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var stop = new CancellationTokenSource();
        var options = new SignalHubOptions();
        var context = new FeedContext(options, history: null, new HubMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System, NullLogger.Instance, _ => Assert.Fail("no subscriber is slow here"));
        var feed = new SymbolFeed("BTCUSDT", context, stop.Token);
        var pipes = new List<Pipe>();
        for (var i = 0; i < subscribers; i++)
        {
            var connection = new PipeHubConnection($"c{i}", new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            var state = new ConnectionState(connection.Context, options, TimeProvider.System, _ => { });
            // Every third subscriber wants only 5m signals: the filter must hold in every worker's share.
            var mask = SignalSubscription.MaskOf(i % 3 == 0 ? [Timeframe.FiveMinutes] : Timeframes.All);
            await feed.SubscribeAsync(new SignalSubscription(state, "BTCUSDT", mask, 0), null, null, ["1m"], CancellationToken.None);
            pipes.Add(connection.ToClient);
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
            Assert.Equal(expected, await ReadSeqsAsync(pipes[i]));
        }

        await stop.CancelAsync();
    }

    [Fact]
    public async Task CandlesQueuedTogetherReachEachSubscriberOnceAndInOrderWithTheSignalsBetweenThem()
    {
        // Candles of several timeframes queued behind one another go to each subscriber as one run; a signal between
        // them ends a run. Every subscriber sees its timeframes' candles and the signals, once each, in posted order.
        Timeframe[] timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var stop = new CancellationTokenSource();
        var options = new SignalHubOptions();
        var context = new FeedContext(options, history: null, new HubMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System, NullLogger.Instance, _ => Assert.Fail("no subscriber is slow here"));
        var feed = new SymbolFeed("BTCUSDT", context, stop.Token);
        var pipes = new List<Pipe>();
        var wants = new List<Timeframe[]>();
        for (var i = 0; i < 6; i++)
        {
            var connection = new PipeHubConnection($"c{i}", new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
            var state = new ConnectionState(connection.Context, options, TimeProvider.System, _ => { });
            await feed.SubscribeAsync(new SignalSubscription(state, "BTCUSDT", SignalSubscription.MaskOf(Timeframes.All), 0), null, null, ["1m"], CancellationToken.None);
            var want = timeframes.Where((_, t) => (i + t) % 3 != 0).ToArray(); // each a different subset of the four
            foreach (var timeframe in want)
            {
                feed.AddCandleSubscriber(timeframe, state);
            }

            pipes.Add(connection.ToClient);
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

        await stop.CancelAsync();
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

    /// <summary>The seq of every signal invocation written to a connection's pipe so far.</summary>
    private static async Task<List<long>> ReadSeqsAsync(Pipe toClient)
    {
        await toClient.Writer.CompleteAsync();
        var result = await toClient.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var text = Encoding.UTF8.GetString(result.Buffer.ToArray());
        toClient.Reader.AdvanceTo(result.Buffer.End);
        return text.Split('\u001e', StringSplitOptions.RemoveEmptyEntries)
            .Select(record => System.Text.Json.JsonDocument.Parse(record).RootElement.GetProperty("arguments")[0].GetProperty("seq").GetInt64())
            .ToList();
    }
}
