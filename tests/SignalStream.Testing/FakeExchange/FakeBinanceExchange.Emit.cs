using System.Diagnostics.CodeAnalysis;
using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>The market clock, candle emission and injected faults.</summary>
public sealed partial class FakeBinanceExchange
{
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "Only awaited (no AvailableWaitHandle): nothing to release, and the timed loop or a test may still hold it while the exchange shuts down.")]
    private readonly SemaphoreSlim _emitLock = new(1, 1);
    private readonly Random _faultRandom;
    private readonly HashSet<string> _muted = new(StringComparer.Ordinal);
    private long _clock;

    /// <summary>Stops (or resumes) every frame of one stream while the others continue.</summary>
    public void MuteStream(string streamName, bool muted = true)
    {
        lock (_muted)
        {
            if (muted ? _muted.Add(streamName) : _muted.Remove(streamName))
            {
                Record(new InjectedFault(muted ? "mute" : "unmute", streamName, Now, 0));
            }
        }
    }

    private bool IsMuted(string streamName)
    {
        lock (_muted)
        {
            return _muted.Count > 0 && _muted.Contains(streamName);
        }
    }

    /// <summary>
    /// Moves the clock to the next close of the shortest timeframe: sends the closed frame of every stream that closes
    /// there (with the configured per-frame faults), then the first in-progress frame of each stream's new candle.
    /// Returns the candles that closed, exactly as the exchange defines them.
    /// </summary>
    public Task<IReadOnlyList<Candle>> AdvanceAsync(CancellationToken cancellationToken = default) => AdvanceAsync(null, cancellationToken);

    /// <inheritdoc cref="AdvanceAsync(CancellationToken)"/>
    /// <param name="framesReady">
    /// Called once every frame is built, just before the first is written: a real exchange builds its frames on its own
    /// machines, so a latency measured from here leaves out the fake's encoding (~10 ms of the harness's CPU for 4,000
    /// frames), which runs beside the node under test.
    /// </param>
    /// <param name="cancellationToken">Stops the send.</param>
    public async Task<IReadOnlyList<Candle>> AdvanceAsync(Action? framesReady, CancellationToken cancellationToken = default)
    {
        await _emitLock.WaitAsync(cancellationToken);
        try
        {
            var boundary = _baseTimeframe.NextOpenTime(_baseTimeframe.OpenTimeOf(Now));
            var closed = new List<Candle>();
            var late = new List<(StreamInfo Stream, Candle Candle)>();
            var batch = new Batch(this);
            var faults = _options.Faults;
            foreach (var stream in _streams)
            {
                if (stream.Timeframe.OpenTimeOf(boundary) != boundary)
                {
                    continue;
                }

                var candle = Market.CandleAt(stream.Symbol, stream.Timeframe, stream.Timeframe.OpenTimeOf(boundary - 1));
                closed.Add(candle);
                var frame = KlineFrame(stream, candle, true, boundary);
                var roll = _faultRandom.NextDouble();
                if ((roll -= faults.SkipClose) < 0)
                {
                    Record(new InjectedFault("skip", stream.Name, candle.OpenTime, 0));
                }
                else if ((roll -= faults.LateClose) < 0)
                {
                    Record(new InjectedFault("late", stream.Name, candle.OpenTime, 0));
                    late.Add((stream, candle));
                }
                else if ((roll -= faults.DuplicateClose) < 0)
                {
                    Record(new InjectedFault("duplicate", stream.Name, candle.OpenTime, 0));
                    batch.Add(stream, frame, candle.OpenTime, true);
                    batch.Add(stream, frame, candle.OpenTime, true);
                }
                else if ((roll -= faults.MalformedFrame) < 0)
                {
                    Record(new InjectedFault("malformed", stream.Name, candle.OpenTime, 0));
                    var bad = FakeFrames.Malformed(_faultRandom.Next(), frame.Combined);
                    batch.AddRaw(stream, bad);
                    batch.Add(stream, frame, candle.OpenTime, true);
                }
                else
                {
                    batch.Add(stream, frame, candle.OpenTime, true);
                }
            }

            Interlocked.Exchange(ref _clock, boundary + 1);
            foreach (var stream in _streams)
            {
                AddProgress(batch, stream, boundary + 1);
            }

            foreach (var (stream, candle) in late)
            {
                batch.Add(stream, KlineFrame(stream, candle, true, boundary + 2), candle.OpenTime, true);
            }

            framesReady?.Invoke();
            await batch.SendAsync(cancellationToken);
            return closed;
        }
        finally
        {
            _emitLock.Release();
        }
    }

    /// <summary>Moves the clock within the current shortest candle and sends an in-progress frame of every stream.</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        await _emitLock.WaitAsync(cancellationToken);
        try
        {
            var open = _baseTimeframe.OpenTimeOf(Now);
            var length = _baseTimeframe.NextOpenTime(open) - open;
            var next = Math.Min(Now + (length / (_options.TicksPerCandle + 1)), open + length - 1);
            Interlocked.Exchange(ref _clock, next);
            var batch = new Batch(this);
            foreach (var stream in _streams)
            {
                AddProgress(batch, stream, next);
            }

            await batch.SendAsync(cancellationToken);
        }
        finally
        {
            _emitLock.Release();
        }
    }

    /// <summary>
    /// Advances until a moment where every configured timeframe closes at once and returns the candles closed at that
    /// instant — one per stream (the load harness's "closing bell").
    /// </summary>
    public async Task<IReadOnlyList<Candle>> ClosingBellAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var closed = await AdvanceAsync(cancellationToken);
            if (closed.Count == _streams.Length)
            {
                return closed;
            }
        }
    }

    /// <summary>Drops a connection (a random one when <paramref name="connectionId"/> is null); false when none is open.</summary>
    /// <param name="abrupt">Reset the TCP connection instead of a WebSocket close (frames in flight may be lost).</param>
    public async Task<bool> DropConnectionAsync(int? connectionId = null, bool abrupt = false)
    {
        await _emitLock.WaitAsync();
        try
        {
            var connection = PickConnection(connectionId);
            if (connection is null)
            {
                return false;
            }

            connection.Dead = true;
            Record(new InjectedFault(abrupt ? "abort" : "drop", null, Now, connection.Id));
            if (abrupt)
            {
                connection.Abort();
                return true;
            }

            try
            {
                connection.CloseSent = true;
                await connection.Socket.WriteFrameAsync(ServerWebSocket.Close, new byte[] { 0x03, 0xE9 }, CancellationToken.None);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Already gone.
            }

            // The client answers the close; if it does not, end the connection anyway.
            connection.Closing.CancelAfter(TimeSpan.FromSeconds(2));
            return true;
        }
        finally
        {
            _emitLock.Release();
        }
    }

    /// <summary>Stops sending data to a connection (pings continue), as a stalled exchange would.</summary>
    public async Task<bool> StallConnectionAsync(int? connectionId = null)
    {
        await _emitLock.WaitAsync();
        try
        {
            var connection = PickConnection(connectionId);
            if (connection is null)
            {
                return false;
            }

            connection.Stalled = true;
            Record(new InjectedFault("stall", null, Now, connection.Id));
            return true;
        }
        finally
        {
            _emitLock.Release();
        }
    }

    /// <summary>Sends <c>serverShutdown</c> on a connection, sends it no more data, and closes it if the client does not.</summary>
    public async Task<bool> ServerShutdownAsync(int? connectionId = null)
    {
        await _emitLock.WaitAsync();
        try
        {
            var connection = PickConnection(connectionId);
            if (connection is null)
            {
                return false;
            }

            connection.ShuttingDown = true;
            Record(new InjectedFault("serverShutdown", null, Now, connection.Id));
            var payload = FakeFrames.ServerShutdownPayload(Now);
            try
            {
                await connection.Socket.WriteFrameAsync(ServerWebSocket.Text,
                    connection.Combined ? FakeFrames.Combined("!serverShutdown", payload) : payload, CancellationToken.None);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Already gone.
            }

            connection.Closing.CancelAfter(TimeSpan.FromSeconds(5));
            return true;
        }
        finally
        {
            _emitLock.Release();
        }
    }

    private FakeConnection? PickConnection(int? connectionId)
    {
        lock (_connections)
        {
            var healthy = _connections.Where(c => c.Healthy).OrderBy(c => c.Id).ToList();
            if (connectionId is { } id)
            {
                return healthy.FirstOrDefault(c => c.Id == id);
            }

            return healthy.Count == 0 ? null : healthy[_faultRandom.Next(healthy.Count)];
        }
    }

    private void AddProgress(Batch batch, StreamInfo stream, long time)
    {
        var open = stream.Timeframe.OpenTimeOf(time);
        var length = stream.Timeframe.NextOpenTime(open) - open;
        var elapsed = Math.Clamp(time - open, 1, length - 1);
        var candle = Market.PartialAt(stream.Symbol, stream.Timeframe, open, (int)Math.Min(elapsed, int.MaxValue / 2),
            (int)Math.Min(length, int.MaxValue / 2 + 1));
        batch.Add(stream, KlineFrame(stream, candle, false, time), open, false);
    }

    private EncodedFrame KlineFrame(StreamInfo stream, in Candle candle, bool closed, long eventTime)
    {
        var raw = FakeFrames.KlinePayload(candle, closed, eventTime, Market.FirstTradeId(stream.Symbol, stream.Timeframe, candle.OpenTime));
        return new EncodedFrame(raw, FakeFrames.Combined(stream.Name, raw));
    }

    private async Task RunTimedAsync(CancellationToken cancellationToken)
    {
        var open = _baseTimeframe.OpenTimeOf(Now);
        var candleMs = (_baseTimeframe.NextOpenTime(open) - open) / _options.Speed;
        var tickDelay = TimeSpan.FromMilliseconds(candleMs / (_options.TicksPerCandle + 1));
        var faults = _options.Faults;
        while (!cancellationToken.IsCancellationRequested)
        {
            for (var i = 0; i < _options.TicksPerCandle; i++)
            {
                await Task.Delay(tickDelay, cancellationToken);
                await TickAsync(cancellationToken);
            }

            await Task.Delay(tickDelay, cancellationToken);
            await AdvanceAsync(cancellationToken);
            double drop, stall, shutdown;
            lock (_faultRandom)
            {
                (drop, stall, shutdown) = (_faultRandom.NextDouble(), _faultRandom.NextDouble(), _faultRandom.NextDouble());
            }

            if (drop < faults.DropConnection)
            {
                await DropConnectionAsync();
            }

            if (stall < faults.StallConnection)
            {
                await StallConnectionAsync();
            }

            if (shutdown < faults.ServerShutdown)
            {
                await ServerShutdownAsync();
            }
        }
    }

    private readonly record struct EncodedFrame(byte[] Raw, byte[] Combined);

    /// <summary>Frames for every healthy connection subscribed to their streams, sent with one write per connection.</summary>
    private sealed class Batch(FakeBinanceExchange exchange)
    {
        private readonly Dictionary<FakeConnection, (List<(byte, ReadOnlyMemory<byte>)> Frames, List<KlineWrite> Writes)> _byConnection = [];
        private FakeConnection[]? _connections;

        public void Add(StreamInfo stream, EncodedFrame frame, long openTime, bool closed)
        {
            foreach (var connection in Targets(stream))
            {
                var entry = Entry(connection);
                entry.Frames.Add((ServerWebSocket.Text, connection.Combined ? frame.Combined : frame.Raw));
                entry.Writes.Add(new KlineWrite(stream.Name, openTime, closed, connection.Id));
            }
        }

        public void AddRaw(StreamInfo stream, byte[] bytes)
        {
            foreach (var connection in Targets(stream))
            {
                Entry(connection).Frames.Add((ServerWebSocket.Text, bytes));
            }
        }

        public async Task SendAsync(CancellationToken cancellationToken)
        {
            foreach (var (connection, (frames, writes)) in _byConnection)
            {
                if (!connection.Healthy)
                {
                    continue;
                }

                try
                {
                    await connection.Socket.WriteFramesAsync(frames, cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException
                                               or Microsoft.AspNetCore.Connections.ConnectionResetException)
                {
                    // The client is gone; what was not written is not recorded as sent.
                    continue;
                }

                lock (exchange._recordLock)
                {
                    exchange._writes.AddRange(writes);
                }
            }
        }

        private IEnumerable<FakeConnection> Targets(StreamInfo stream)
        {
            if (exchange.IsMuted(stream.Name))
            {
                yield break;
            }

            if (_connections is null)
            {
                lock (exchange._connections)
                {
                    _connections = exchange._connections.Where(c => c.Healthy).ToArray();
                }
            }

            foreach (var connection in _connections)
            {
                if (connection.IsSubscribed(stream.Name))
                {
                    yield return connection;
                }
            }
        }

        private (List<(byte, ReadOnlyMemory<byte>)> Frames, List<KlineWrite> Writes) Entry(FakeConnection connection)
        {
            if (!_byConnection.TryGetValue(connection, out var entry))
            {
                entry = ([], []);
                _byConnection[connection] = entry;
            }

            return entry;
        }
    }
}
