using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>
/// One combined-stream WebSocket connection and the streams it carries, kept alive across faults: it reconnects with
/// backoff and jitter, rotates before Binance's 24 h cut, reconnects at once on <c>serverShutdown</c>, replaces a silent
/// connection, and keeps Binance's subscription in step with the wanted streams through SUBSCRIBE/UNSUBSCRIBE.
/// </summary>
/// <remarks>
/// Pongs: <see cref="ClientWebSocket"/> answers every ping itself, at once, with the ping's payload (RFC 6455 5.5.3),
/// while <c>ReceiveAsync</c> runs — which is what Binance requires, but it cannot pass through our limiter. The limiter
/// therefore admits one message a second less than <see cref="BinanceOptions.MaxOutgoingMessagesPerSecond"/>: the
/// reserved one is for pongs (Binance pings every 20 s). Unsolicited keep-alive pongs are switched off
/// (<c>KeepAliveInterval = 0</c>), so every frame we send is either a pong or a limited JSON message.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlims are only awaited (no AvailableWaitHandle) and _stop has no timer and no parent: none holds anything to release, and Stop may come after the run ended.")]
internal sealed partial class BinanceConnection
{
    private readonly BinanceCandleSource _source;
    private readonly BinanceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly HashSet<StreamTracker> _wanted = [];
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _syncLock = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationToken _runToken;
    private readonly RejectionLog _rejections;
    private StreamTracker[] _snapshot = [];
    private byte[] _buffer;
    private ClientWebSocket? _socket;
    private SlidingWindowLimiter? _limiter;

    /// <summary>
    /// Added to the limiter's one-second window. The exchange counts arrivals, not sends: the window lets a connection's
    /// messages leave in groups a window apart, and a group delayed by more than the margin (a slow network, a stalled
    /// reader) lands in the same counted second as the next. 100 ms was not enough on a loaded test machine (a fresh
    /// clone's run counted six in a second on a connection limited to three per window); 250 ms costs a fifth of the
    /// subscription rate after the first group.
    /// </summary>
    internal static readonly TimeSpan ArrivalMargin = TimeSpan.FromMilliseconds(250);
    private long _nextRequestId;
    private long _lastLateScan;
    private long _previousEventTime = long.MinValue;

    public BinanceConnection(BinanceCandleSource source, int id, CancellationToken runToken)
    {
        _source = source;
        _options = source.Options;
        _time = source.Time;
        _logger = source.Logger;
        Id = id;
        _runToken = runToken;
        _buffer = [];
        _rejections = new RejectionLog(source, id);
    }

    public int Id { get; }

    /// <summary>
    /// The exchange's clock: the newest event time (<c>E</c>) seen on the current connection and confirmed by the frame
    /// after it; <see cref="long.MinValue"/> until then. Each new connection starts it afresh.
    /// </summary>
    public long ExchangeClock { get; private set; } = long.MinValue;

    public int StreamCount
    {
        get
        {
            lock (_lock)
            {
                return _wanted.Count;
            }
        }
    }

    public Task? Running { get; private set; }

    /// <summary>The largest the receive buffer has been.</summary>
    public int LargestBuffer { get; private set; }

    public void Start() => Running = Task.Run(RunUntilStoppedAsync);

    /// <summary>Stops the connection for good (its last stream was removed).</summary>
    public void Stop() => _stop.Cancel();

    public void Add(StreamTracker tracker)
    {
        lock (_lock)
        {
            _wanted.Add(tracker);
            _snapshot = [.. _wanted];

            // Wakes a connection that was waiting for its first stream; releases happen only here, under the lock.
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
    }

    public void Remove(StreamTracker tracker)
    {
        lock (_lock)
        {
            _wanted.Remove(tracker);
            _snapshot = [.. _wanted];
        }
    }

    private async Task RunUntilStoppedAsync()
    {
        // Linked for the run only: a connection stopped at run time leaves no registration behind on the source's token.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_runToken, _stop.Token);
        await RunAsync(stop.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects, receives, and reconnects after whatever ended the connection, until stopped. Nothing but the stop ends
    /// this loop: every failure, foreseen or not, is logged, counted in <c>signalstream_ingest_reconnects_total</c> with
    /// its reason, and followed by a reconnect with backoff (the streams are then backfilled from REST).
    /// </summary>
    private async Task RunAsync(CancellationToken stopToken)
    {
        var attempt = 0;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(_options.ReceiveBufferBytes, _options.MaxMessageBytes));
        LargestBuffer = Math.Max(LargestBuffer, _buffer.Length);
        try
        {
            while (!stopToken.IsCancellationRequested)
            {
                if (StreamCount == 0)
                {
                    await _wake.WaitAsync(stopToken).ConfigureAwait(false);
                    continue;
                }

                await _source.ConnectionLimiter.AcquireAsync(stopToken).ConfigureAwait(false);
                var (end, receivedData, error) = await RunOnceAsync(stopToken).ConfigureAwait(false);
                if (stopToken.IsCancellationRequested)
                {
                    break;
                }

                _source.Metrics.Reconnected(end);

                // A connection that delivered data was healthy, so the next attempt starts from the shortest delay;
                // a protocol error or fault is not health, and repeated ones back off to the longest.
                if (receivedData && end is not (ConnectionEnd.MessageTooLarge or ConnectionEnd.Fault))
                {
                    attempt = 0;
                }

                var delay = end is ConnectionEnd.ServerShutdown or ConnectionEnd.Rotated
                    ? TimeSpan.Zero
                    : Backoff.Delay(attempt++, _options.ReconnectDelayMin, _options.ReconnectDelayMax);
                if (end == ConnectionEnd.Fault)
                {
                    Log.Faulted(_logger, Id, delay, error);
                }
                else
                {
                    Log.Disconnected(_logger, Id, end.ToString(), delay, error);
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, stopToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            // Stopped: the source is shutting down or this connection lost its last stream.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    /// <summary>One connection from connect to its end; never throws except when <paramref name="stopToken"/> stops it.</summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Any other exception ends the connection as a fault, logged and reconnected (see the catch): never the end of its streams.")]
    private async Task<(ConnectionEnd End, bool ReceivedData, Exception? Error)> RunOnceAsync(CancellationToken stopToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var receivedData = false;
        ExchangeClock = long.MinValue;
        _previousEventTime = long.MinValue;
        try
        {
            var uri = BuildUri(out var included);
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stopToken))
            {
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(15));
                await socket.ConnectAsync(uri, connectTimeout.Token).ConfigureAwait(false);
            }

            lock (_lock)
            {
                _subscribed.Clear();
                _subscribed.UnionWith(included);
                _socket = socket;
                _limiter = new SlidingWindowLimiter(_options.MaxOutgoingMessagesPerSecond - 1, TimeSpan.FromSeconds(1), _time, ArrivalMargin);
            }

            Log.Connected(_logger, Id, included.Count);
            await SyncSubscriptionsAsync(stopToken).ConfigureAwait(false);
            var end = await ReceiveLoopAsync(socket, () => receivedData = true, stopToken).ConfigureAwait(false);
            return (end, receivedData, null);
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is WebSocketException or HttpRequestException or IOException
                                       or OperationCanceledException or ObjectDisposedException)
        {
            return (ConnectionEnd.Network, receivedData, ex);
        }
        catch (Exception ex)
        {
            // Not a network failure: a bug, or an input nobody foresaw. Ending here for good would silently stop every
            // stream on this connection, so it is logged as an error and the connection is replaced like any other.
            socket.Abort();
            return (ConnectionEnd.Fault, receivedData, ex);
        }
        finally
        {
            lock (_lock)
            {
                _socket = null;
                _subscribed.Clear();
            }
        }
    }

    private async Task<ConnectionEnd> ReceiveLoopAsync(ClientWebSocket socket, Action receivedData, CancellationToken stopToken)
    {
        using var watchdog = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using var lifetime = new CancellationTokenSource(_options.ConnectionLifetime, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopToken, watchdog.Token, lifetime.Token);
        var token = linked.Token;
        var limit = _options.MaxMessageBytes;
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;

                // The watchdog measures only time spent waiting for the exchange, not time spent delivering or backfilling.
                watchdog.CancelAfter(_options.NoDataTimeout);
                do
                {
                    var capacity = Math.Min(_buffer.Length, limit);
                    if (count == capacity)
                    {
                        if (capacity == limit)
                        {
                            // The rest of the message is never read: the socket is dropped, whatever the exchange still sends.
                            _rejections.Add(FrameRejection.TooLarge);
                            Log.MessageTooLarge(_logger, Id, limit);
                            socket.Abort();
                            return ConnectionEnd.MessageTooLarge;
                        }

                        Grow(limit);
                        capacity = Math.Min(_buffer.Length, limit);
                    }

                    result = await socket.ReceiveAsync(_buffer.AsMemory(count, capacity - count), token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return ConnectionEnd.Closed;
                    }

                    count += result.Count;
                }
                while (!result.EndOfMessage);

                watchdog.CancelAfter(Timeout.InfiniteTimeSpan);
                receivedData();
                if (await HandleMessageAsync(count, token).ConfigureAwait(false))
                {
                    Log.ServerShutdown(_logger, Id);
                    return ConnectionEnd.ServerShutdown;
                }

                var now = _time.GetTimestamp();
                if (_time.GetElapsedTime(_lastLateScan, now) >= LateScanInterval)
                {
                    _lastLateScan = now;
                    await _source.RecoverLateClosesAsync(Volatile.Read(ref _snapshot), ExchangeClock, token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!stopToken.IsCancellationRequested && lifetime.IsCancellationRequested)
        {
            Log.Rotating(_logger, Id);
            await CloseQuietlyAsync(socket).ConfigureAwait(false);
            return ConnectionEnd.Rotated;
        }
        catch (OperationCanceledException) when (!stopToken.IsCancellationRequested && watchdog.IsCancellationRequested)
        {
            Log.Silent(_logger, Id, _options.NoDataTimeout);
            return ConnectionEnd.Silent;
        }
    }

    private static readonly TimeSpan LateScanInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Handles one complete message; true when it was <c>serverShutdown</c>.</summary>
    private ValueTask<bool> HandleMessageAsync(int count, CancellationToken cancellationToken)
    {
        var receivedAt = _time.GetUtcNow().ToUnixTimeMilliseconds();
        _source.Metrics.MessageReceived();
        var kind = KlineFrameParser.Parse(_buffer.AsSpan(0, count), _source.Symbols, out var frame);
        switch (kind)
        {
            case FrameKind.Kline:
                // A single frame cannot move the clock: it advances to the older of this E and the previous frame's, so
                // one corrupt E (which would make every stream's next candles look overdue, or overflow calendar
                // arithmetic) is outvoted by its neighbours.
                var corroborated = Math.Min(frame.EventTime, _previousEventTime);
                _previousEventTime = frame.EventTime;
                if (corroborated > ExchangeClock)
                {
                    ExchangeClock = corroborated;
                }

                var tracker = frame.Symbol!.Trackers[(int)frame.Candle.Timeframe];
                if (tracker is null || !ReferenceEquals(tracker.Owner, this))
                {
                    _rejections.Add(FrameRejection.UnknownStream);
                    return ValueTask.FromResult(false);
                }

                var delivery = _source.HandleKlineAsync(tracker, frame, receivedAt, cancellationToken);
                return delivery.IsCompletedSuccessfully ? ValueTask.FromResult(false) : AwaitDelivery(delivery);
            case FrameKind.ServerShutdown:
                return ValueTask.FromResult(true);
            case FrameKind.ErrorReply:
                Log.ErrorReply(_logger, frame.ReplyId, frame.ErrorCode, ErrorMeaning(frame.ErrorCode));
                return ValueTask.FromResult(false);
            case FrameKind.Reply:
                return ValueTask.FromResult(false);
            default:
                _rejections.Add(frame.Rejection);
                return ValueTask.FromResult(false);
        }

        static async ValueTask<bool> AwaitDelivery(ValueTask delivery)
        {
            await delivery.ConfigureAwait(false);
            return false;
        }
    }

    private static string ErrorMeaning(int code) => code switch
    {
        0 => "unknown property",
        1 => "invalid value type",
        2 => "invalid request",
        3 => "invalid JSON",
        _ => "undocumented error code",
    };

    /// <summary>Sends SUBSCRIBE/UNSUBSCRIBE until Binance's subscription matches the wanted streams.</summary>
    public async Task SyncSubscriptionsAsync(CancellationToken cancellationToken)
    {
        await _syncLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                ClientWebSocket? socket;
                SlidingWindowLimiter? limiter;
                List<string> toRemove, toAdd;
                lock (_lock)
                {
                    socket = _socket;
                    limiter = _limiter;
                    if (socket is null || limiter is null)
                    {
                        return;
                    }

                    var wantedNames = new HashSet<string>(_wanted.Select(t => t.StreamName), StringComparer.Ordinal);
                    toRemove = _subscribed.Where(s => !wantedNames.Contains(s)).Take(_options.StreamsPerSubscribeMessage).ToList();
                    toAdd = toRemove.Count > 0
                        ? []
                        : wantedNames.Where(s => !_subscribed.Contains(s)).Order(StringComparer.Ordinal).Take(_options.StreamsPerSubscribeMessage).ToList();
                }

                if (toRemove.Count == 0 && toAdd.Count == 0)
                {
                    return;
                }

                var method = toRemove.Count > 0 ? "UNSUBSCRIBE" : "SUBSCRIBE";
                var streams = toRemove.Count > 0 ? toRemove : toAdd;
                try
                {
                    await SendControlAsync(socket, limiter, method, streams, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException)
                {
                    // The socket died; the receive loop sees it too and reconnects, and a new socket is synced from scratch.
                    return;
                }

                lock (_lock)
                {
                    if (!ReferenceEquals(_socket, socket))
                    {
                        return;
                    }

                    if (toRemove.Count > 0)
                    {
                        _subscribed.ExceptWith(toRemove);
                    }
                    else
                    {
                        _subscribed.UnionWith(toAdd);
                    }
                }
            }
        }
        finally
        {
            _syncLock.Release();
        }
    }

    private async Task SendControlAsync(ClientWebSocket socket, SlidingWindowLimiter limiter, string method,
        List<string> streams, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextRequestId);
        var buffer = new ArrayBufferWriter<byte>(64 + (streams.Count * 24));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("method"u8, method);
            writer.WriteStartArray("params"u8);
            foreach (var stream in streams)
            {
                writer.WriteStringValue(stream);
            }

            writer.WriteEndArray();
            writer.WriteNumber("id"u8, id);
            writer.WriteEndObject();
        }

        await limiter.AcquireAsync(cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
        Log.Sent(_logger, Id, method, id, streams.Count);
    }

    /// <summary>The combined-stream URL with as many wanted streams as fit; the rest follow by SUBSCRIBE.</summary>
    private Uri BuildUri(out List<string> included)
    {
        string[] names;
        lock (_lock)
        {
            names = _wanted.Select(t => t.StreamName).Order(StringComparer.Ordinal).ToArray();
        }

        var builder = new StringBuilder(_options.StreamUrl.TrimEnd('/')).Append("/stream?streams=");
        included = [];
        foreach (var name in names)
        {
            if (included.Count > 0 && builder.Length + 1 + name.Length > _options.MaxUrlLength)
            {
                break;
            }

            if (included.Count > 0)
            {
                builder.Append('/');
            }

            builder.Append(name);
            included.Add(name);
        }

        return new Uri(builder.ToString());
    }

    /// <summary>Doubles the receive buffer, never past <paramref name="limit"/> (so a length never overflows).</summary>
    private void Grow(int limit)
    {
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(_buffer.Length * 2L, limit));
        _buffer.CopyTo(bigger, 0);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
        LargestBuffer = Math.Max(LargestBuffer, bigger.Length);
    }

    private async Task CloseQuietlyAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
        try
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "rotating", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Best effort: the connection is being replaced either way and its streams are backfilled on the new one.
        }
    }

    /// <summary>Counts rejected frames per reason and logs them at most once per interval per connection.</summary>
    private sealed class RejectionLog(BinanceCandleSource source, int connection)
    {
        private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
        private readonly long[] _counts = new long[Enum.GetValues<FrameRejection>().Length];
        private long _lastLog = long.MinValue;

        public void Add(FrameRejection reason)
        {
            source.Metrics.Rejected(reason);
            _counts[(int)reason]++;
            var now = source.Time.GetTimestamp();
            if (_lastLog != long.MinValue && source.Time.GetElapsedTime(_lastLog, now) < Interval)
            {
                return;
            }

            _lastLog = now;
            for (var i = 0; i < _counts.Length; i++)
            {
                if (_counts[i] > 0)
                {
                    Log.FramesRejected(source.Logger, _counts[i], ((FrameRejection)i).ToString(), connection);
                    _counts[i] = 0;
                }
            }
        }
    }
}
