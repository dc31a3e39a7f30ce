using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Client.Internal;
using SignalStream.Contracts;

namespace SignalStream.Client.Tests;

/// <summary>A candle stream across a reconnect: the closed candles missed meanwhile, fetched, then the live ones held.</summary>
public sealed class CandleChannelTests
{
    private const long M = 60_000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan[] Retries = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(3)];

    [Fact]
    public async Task TheClosedCandlesMissedWhileAwayArriveOnceEachInOrderBeforeTheLiveOnesHeldMeanwhile()
    {
        var (store, channel, seen) = Start();
        channel.OnCandle(Candle(1, closed: true));
        channel.OnCandle(Candle(2, closed: false));
        store.Close(1, 2, 3);
        var gate = store.Hold();
        channel.BeginRecovery();
        channel.Recover();
        channel.OnCandle(Candle(3, closed: true)); // live while the read is in flight: held, and a repeat of a fetched one
        channel.OnCandle(Candle(4, closed: true));
        channel.OnCandle(Candle(5, closed: false));
        channel.OnCandle(Candle(5, closed: false));
        store.Close(4);
        gate.SetResult();

        await seen.UntilAsync(6);
        Assert.Equal([(1, true), (2, false), (2, true), (3, true), (4, true), (5, false)], seen.Minutes);
        Assert.Equal([M], store.Reads);
        Assert.Empty(seen.Errors);
    }

    [Fact]
    public async Task AHeldCandleMoreThanABarAheadMakesItReadTheStoreAgainUntilTheOneBeforeIsStored()
    {
        var (store, channel, seen) = Start();
        channel.OnCandle(Candle(1, closed: true));
        store.Close(1, 2);
        store.BeforeRead = () =>
        {
            if (store.Reads.Count == 1)
            {
                channel.OnCandle(Candle(3, closed: true)); // live, held; 2 and 3 are stored only after this read
                store.Close(3);
                store.Unstored = 2;
            }
            else
            {
                store.Unstored = 0;
            }
        };
        channel.BeginRecovery();
        channel.Recover();

        await seen.UntilAsync(3);
        Assert.Equal([(1, true), (2, true), (3, true)], seen.Minutes);
        Assert.Equal([M, M], store.Reads);
    }

    [Fact]
    public async Task AStoreThatCannotBeReadAfterEveryRetryIsACandleGapAfterTheHeldCandles()
    {
        var (store, channel, seen) = Start();
        channel.OnCandle(Candle(1, closed: true));
        store.Unavailable = Retries.Length + 1;
        store.BeforeRead = () =>
        {
            if (store.Reads.Count == 1)
            {
                channel.OnCandle(Candle(3, closed: true));
            }
        };
        channel.BeginRecovery();
        channel.Recover();

        await seen.UntilErrorsAsync(1);
        var gap = Assert.IsType<CandleGapException>(Assert.Single(seen.Errors)).Gap;
        Assert.Equal(new CandleGap("BTCUSDT", "1m", M, "signal history is unavailable: retry"), gap);
        Assert.Equal([(1, true), (3, true)], seen.Minutes);
        channel.OnCandle(Candle(4, closed: true));
        Assert.Equal([(1, true), (3, true), (4, true)], seen.Minutes);
    }

    [Fact]
    public async Task PastTheHoldBoundTheNewerLiveCandlesAreFetchedAfterTheHeldOnes()
    {
        var (store, channel, seen) = Start();
        channel.OnCandle(Candle(1, closed: true));
        var gate = store.Hold();
        channel.BeginRecovery();
        channel.Recover();
        var live = CandleChannel.MaxHeld + 10;
        for (var minute = 2; minute < 2 + live; minute++)
        {
            store.Close(minute);
            channel.OnCandle(Candle(minute, closed: true));
        }

        store.Unstored = live; // the first read does not have them yet
        store.BeforeRead = () => store.Unstored = store.Reads.Count == 1 ? live : 0;
        gate.SetResult();

        await seen.UntilAsync(live + 1);
        Assert.Equal(Enumerable.Range(1, live + 1).Select(m => ((long)m, true)), seen.Minutes);
        Assert.Equal([M, (CandleChannel.MaxHeld + 1) * M], store.Reads);
    }

    private static (FakePages Store, CandleChannel Channel, Seen Seen) Start()
    {
        var store = new FakePages();
        var channel = new CandleChannel("BTCUSDT", Timeframe.OneMinute, store, Retries, NullLogger.Instance, CancellationToken.None);
        var seen = new Seen();
        channel.Add(new CandleHandlers { OnCandle = seen.All.Enqueue, OnError = seen.ErrorQueue.Enqueue });
        return (store, channel, seen);
    }

    private static CandleMessage Candle(long minute, bool closed) =>
        new("BTCUSDT", Timeframe.OneMinute, minute * M, (minute * M) + 59_999, 1m, 2m, 0.5m, 1.5m, 10m, closed);

    private sealed class Seen
    {
        public ConcurrentQueue<CandleMessage> All { get; } = new();

        public ConcurrentQueue<Exception> ErrorQueue { get; } = new();

        public List<(long Minute, bool Closed)> Minutes => [.. All.Select(c => (c.OpenTime / M, c.IsClosed))];

        public List<Exception> Errors => [.. ErrorQueue];

        public Task UntilAsync(int count) => UntilCoreAsync(() => All.Count >= count);

        public Task UntilErrorsAsync(int count) => UntilCoreAsync(() => ErrorQueue.Count >= count);

        private static async Task UntilCoreAsync(Func<bool> done)
        {
            using var deadline = new CancellationTokenSource(Wait);
            while (!done())
            {
                await Task.Delay(5, deadline.Token);
            }
        }
    }

    /// <summary><c>/api/candles</c> as the server answers it, with a store that lags or fails on demand.</summary>
    private sealed class FakePages : ICandlePages
    {
        private readonly Lock _gate = new();
        private readonly List<CandleMessage> _stored = [];
        private TaskCompletionSource? _hold;

        public List<long> Reads { get; } = [];

        /// <summary>The newest this-many stored candles are not readable yet.</summary>
        public int Unstored { get; set; }

        /// <summary>The next this-many reads fail as a store that does not answer.</summary>
        public int Unavailable { get; set; }

        public Action? BeforeRead { get; set; }

        public void Close(params long[] minutes)
        {
            lock (_gate)
            {
                _stored.AddRange(minutes.Select(m => Candle(m, closed: true)));
            }
        }

        public TaskCompletionSource Hold() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<IReadOnlyList<CandleMessage>> ReadAsync(string symbol, Timeframe timeframe, long afterOpenTime, CancellationToken cancellationToken)
        {
            Reads.Add(afterOpenTime);
            if (_hold is { } hold)
            {
                await hold.Task.WaitAsync(Wait, cancellationToken);
                _hold = null;
            }

            BeforeRead?.Invoke();
            if (Unavailable > 0)
            {
                Unavailable--;
                throw new SignalStreamApiException(System.Net.HttpStatusCode.ServiceUnavailable, "/api/candles", "signal history is unavailable: retry");
            }

            lock (_gate)
            {
                return [.. _stored.Take(Math.Max(0, _stored.Count - Unstored)).Where(c => c.OpenTime > afterOpenTime).Take(SignalStreamApi.MaxLimit)];
            }
        }
    }
}
