using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using SignalStream.LoadTests.Measurement;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// One load-test connection: a <see cref="RawWebSocket"/>, one receive loop, one <see cref="SeqLedger"/> per
/// subscribed symbol. Subclasses speak the server's protocol (SignalR JSON or Socket.IO) and hand each signal object to
/// <see cref="TryObserveSignal"/>, which pulls only what is measured, so a client costs a few KB and no allocation per
/// message.
/// </summary>
/// <remarks>
/// The harness shares the machine's cores with the server under test, so every microsecond a client spends per
/// message is taken from the server: the receive time is read once per socket read (every record of one read arrived
/// together), delivered counts are added to the shared counters once per read, and a signal is not tokenized (it is
/// ~0.8 KB of which three values are needed) but searched for its three property names.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release.")]
internal abstract class FanOutClient
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte[] _buffer = new byte[8 * 1024];
    private TaskCompletionSource? _paused;
    private RawWebSocket? _socket;
    private Task _loop = Task.CompletedTask;
    private long _readMicros;
    private int _deliveredInRead;

    protected FanOutClient(int id, IReadOnlyList<string> symbols, ClientStats stats, bool slow, ClientMeasurement measurement)
    {
        Id = id;
        Stats = stats;
        Slow = slow;
        Measurement = measurement;
        Ledgers = symbols.Select(s => new SeqLedger(s)).ToArray();
        SymbolBytes = symbols.Select(Encoding.UTF8.GetBytes).ToArray();
        SignalArrivals = measurement.KeepSignalArrivals ? [] : null;
    }

    protected ClientMeasurement Measurement { get; }

    /// <summary>Every new signal's receive time, its candle's close time and its <c>receivedAt</c>/<c>publishedAt</c> stamps
    /// (Unix ms), when <see cref="ClientMeasurement.KeepSignalArrivals"/> is set (closing bell: a few thousand signals).</summary>
    public List<SignalArrival>? SignalArrivals { get; }

    public int Id { get; }

    public bool Slow { get; }

    public SeqLedger[] Ledgers { get; }

    public bool Connected { get; private set; }

    /// <summary>Why the connection ended while the run still wanted it (null while connected or after a planned drop).</summary>
    public string? ClosedReason { get; protected set; }

    /// <summary>Closed candles received: (symbol@timeframe, closeTime, receive time in Unix µs).</summary>
    public List<(string Stream, long CloseTime, long ReceivedMicros)> ClosedCandles { get; } = [];

    /// <summary>Closed candles received with this close time (safe while the receive loop adds more).</summary>
    public int CountClosed(long closeTime)
    {
        lock (ClosedCandles)
        {
            var count = 0;
            foreach (var candle in ClosedCandles)
            {
                count += candle.CloseTime == closeTime ? 1 : 0;
            }

            return count;
        }
    }

    protected void AddClosed(string stream, long closeTime)
    {
        lock (ClosedCandles)
        {
            ClosedCandles.Add((stream, closeTime, _readMicros));
        }
    }

    protected ClientStats Stats { get; }

    protected byte[][] SymbolBytes { get; }

    /// <summary>Subscribe answers still awaited.</summary>
    protected int PendingSubscribes;

    public static long NowMicros => (DateTime.UtcNow.Ticks - EpochTicks) / 10;

    public async Task ConnectAsync(Uri server, LoopbackConnector connector, bool resume, CancellationToken cancellationToken)
    {
        var endpoint = EndpointOf(server);
        var connection = await connector.ConnectAsync(Id, Slow, endpoint, cancellationToken);
        try
        {
            _socket = await RawWebSocket.UpgradeAsync(connection, endpoint, cancellationToken);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        ClosedReason = null;
        await HandshakeAsync(cancellationToken);
        Connected = true;
        PendingSubscribes = Ledgers.Length;
        _loop = Task.Run(() => ReceiveLoopAsync(cancellationToken), CancellationToken.None);
        for (var i = 0; i < Ledgers.Length; i++)
        {
            await SubscribeAsync(i, resume && Ledgers[i].Started ? Ledgers[i].Last : null, cancellationToken);
        }
    }

    /// <summary>Subscribes to candles of streams (closing bell); answers are not awaited.</summary>
    public virtual Task SubscribeCandlesAsync(IEnumerable<(string Symbol, string Timeframe)> streams, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public bool AllSubscribed => Volatile.Read(ref PendingSubscribes) == 0;

    /// <summary>Stops reading (a slow consumer): the server's outbound queue for this connection fills up.</summary>
    public void Pause() => _paused ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Resume() => Interlocked.Exchange(ref _paused, null)?.TrySetResult();

    /// <summary>Drops the connection abruptly (reconnect storm); the ledgers stay for the resume.</summary>
    public async Task DropAsync()
    {
        var socket = _socket;
        Connected = false;
        socket?.Abort();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    public async Task CloseAsync()
    {
        Resume();
        var socket = _socket;
        if (socket is null)
        {
            return;
        }

        Connected = false;
        await _sendLock.WaitAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone (for example disconnected as a slow consumer): nothing left to close.
        }
        finally
        {
            _sendLock.Release();
        }

        socket.Abort();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    /// <summary>Self-checks (no socket): sends nothing, but records the Subscribe of ledger <paramref name="index"/> as sent.</summary>
    internal void SubscribeWithoutSocket(int index)
    {
        if (_socket is not null || !SubscribeAsync(index, null, CancellationToken.None).IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("only for a client that never connected: with no socket the Subscribe completes at once");
        }
    }

    /// <summary>Self-checks (no socket): handles <paramref name="data"/> as one whole received message.</summary>
    internal void ReceiveWithoutSocket(ReadOnlySpan<byte> data)
    {
        _readMicros = NowMicros;
        ConsumeRecords(data, endOfMessage: true);
        _deliveredInRead = 0;
    }

    /// <summary>Sends the protocol's keep-alive (SignalR drops a client silent for 30 s).</summary>
    public virtual ValueTask PingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public Task LoopTask => _loop;

    protected abstract Uri EndpointOf(Uri server);

    protected abstract Task HandshakeAsync(CancellationToken cancellationToken);

    protected abstract Task SubscribeAsync(int index, long? afterSeq, CancellationToken cancellationToken);

    /// <summary>Handles one complete record (SignalR: without the 0x1e; Socket.IO: one WebSocket message).</summary>
    protected abstract void OnRecord(ReadOnlySpan<byte> record);

    /// <summary>Splits received bytes into records; SignalR overrides to split on 0x1e.</summary>
    protected abstract int ConsumeRecords(ReadOnlySpan<byte> data, bool endOfMessage);

    /// <summary>Sends one message: a text frame, or a binary frame for a binary protocol (MessagePack).</summary>
    protected async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken, bool binary = false)
    {
        var socket = _socket;
        if (socket is null || !socket.IsOpen)
        {
            return;
        }

        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await (binary ? socket.SendBinaryAsync(data, cancellationToken) : socket.SendTextAsync(data, cancellationToken));
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            // The receive loop sees the same broken connection and records it once.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendPongAsync(byte[] payload)
    {
        var socket = _socket;
        if (socket is null || !socket.IsOpen)
        {
            return;
        }

        await _sendLock.WaitAsync();
        try
        {
            await socket.SendPongAsync(payload, CancellationToken.None);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            // As above: the receive loop records the broken connection.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads one whole message during the handshake (before the receive loop runs).</summary>
    protected async Task<string> ReceiveTextAsync(CancellationToken cancellationToken)
    {
        var socket = _socket!;
        var length = 0;
        while (true)
        {
            if (TakeMessage(socket, ref length) is { } text)
            {
                return text;
            }

            if (await socket.ReceiveAsync(cancellationToken) == 0)
            {
                throw new WebSocketException("the server closed the connection during the handshake");
            }
        }
    }

    /// <summary>The first whole data message buffered, as text; null when none is buffered yet.</summary>
    private string? TakeMessage(RawWebSocket socket, ref int length)
    {
        while (socket.TryTakeFrame(out var opcode, out var fin, out var payload))
        {
            if (opcode == WebSocketOpcode.Close)
            {
                throw new WebSocketException("closed during handshake: " + CloseText(payload));
            }

            if (opcode is WebSocketOpcode.Ping or WebSocketOpcode.Pong)
            {
                continue;
            }

            Append(payload, ref length);
            if (fin)
            {
                var text = Encoding.UTF8.GetString(_buffer, 0, length);
                length = 0;
                return text;
            }
        }

        return null;
    }

    private void Append(ReadOnlySpan<byte> payload, ref int length)
    {
        while (length + payload.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        payload.CopyTo(_buffer.AsSpan(length));
        length += payload.Length;
    }

    private static string CloseText(ReadOnlySpan<byte> payload) => payload.Length >= 2
        ? $"{(payload[0] << 8) | payload[1]} {Encoding.UTF8.GetString(payload[2..])}"
        : "no status";

    protected void ObserveSignal(int ledger, long seq, long originMs)
    {
        if (Ledgers[ledger].Observe(seq))
        {
            _deliveredInRead++;
            var latencyMicros = _readMicros - (originMs * 1000);
            Stats.Latency.Record(latencyMicros, Id);
            Stats.Late.Record(latencyMicros, _readMicros);
        }
    }

    /// <summary>A signal whose fields a subclass has read itself (MessagePack): counts it and, for the closing bell,
    /// keeps its arrival.</summary>
    protected void ObserveSignal(int ledger, long seq, long originMs, long candleCloseTimeMs, long receivedAtMs, long publishedAtMs)
    {
        var before = Ledgers[ledger].Last;
        ObserveSignal(ledger, seq, originMs);
        if (SignalArrivals is { } arrivals && Ledgers[ledger].Last != before)
        {
            lock (arrivals)
            {
                arrivals.Add(new SignalArrival(_readMicros, candleCloseTimeMs, receivedAtMs, publishedAtMs));
            }
        }
    }

    private static ReadOnlySpan<byte> SeqProperty => "\"seq\":"u8;

    private static ReadOnlySpan<byte> SymbolProperty => "\"symbol\":\""u8;

    private static ReadOnlySpan<byte> CandleCloseTimeProperty => "\"candleCloseTime\":"u8;

    private static ReadOnlySpan<byte> ReceivedAtProperty => "\"receivedAt\":"u8;

    private static ReadOnlySpan<byte> PublishedAtProperty => "\"publishedAt\":"u8;

    /// <summary>
    /// Reads seq, symbol and the latency origin of one serialized signal object by finding their property names; false
    /// when one is missing or malformed (the caller then tokenizes the record).
    /// </summary>
    /// <remarks>
    /// Exact for the contract's <c>Signal</c>: no nested object of it (model votes, probabilities) has a property of
    /// these names, and a string value cannot contain <c>"seq":</c> (System.Text.Json writes a quote inside a string
    /// as <c>\u0022</c>, and any JSON writer escapes it), so each name found is the signal's own property.
    /// </remarks>
    protected bool TryObserveSignal(ReadOnlySpan<byte> signal)
    {
        if (!TryReadNumber(signal, SeqProperty, out var seq) || !TryReadNumber(signal, Measurement.OriginProperty, out var origin))
        {
            return false;
        }

        var at = signal.IndexOf(SymbolProperty);
        if (at < 0)
        {
            return false;
        }

        var value = signal[(at + SymbolProperty.Length)..];
        var end = value.IndexOf((byte)'"');
        if (end < 0)
        {
            return false;
        }

        var ledger = LedgerOf(value[..end]);
        if (ledger >= 0)
        {
            var before = Ledgers[ledger].Last;
            ObserveSignal(ledger, seq, origin);
            if (SignalArrivals is { } arrivals && Ledgers[ledger].Last != before)
            {
                TryReadNumber(signal, CandleCloseTimeProperty, out var closeTime);
                TryReadNumber(signal, ReceivedAtProperty, out var receivedAt);
                TryReadNumber(signal, PublishedAtProperty, out var publishedAt);
                lock (arrivals)
                {
                    arrivals.Add(new SignalArrival(_readMicros, closeTime, receivedAt, publishedAt));
                }
            }
        }

        return true;
    }

    private static bool TryReadNumber(ReadOnlySpan<byte> json, ReadOnlySpan<byte> property, out long value)
    {
        value = 0;
        var at = json.IndexOf(property);
        return at >= 0 && Utf8Parser.TryParse(json[(at + property.Length)..], out value, out _);
    }

    /// <summary>Which ledger a symbol value belongs to, or -1.</summary>
    protected int LedgerOf(ReadOnlySpan<byte> symbol)
    {
        for (var i = 0; i < SymbolBytes.Length; i++)
        {
            if (symbol.SequenceEqual(SymbolBytes[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Which ledger a symbol value belongs to, or -1.</summary>
    protected int LedgerOf(ref System.Text.Json.Utf8JsonReader reader)
    {
        for (var i = 0; i < SymbolBytes.Length; i++)
        {
            if (reader.ValueTextEquals(SymbolBytes[i]))
            {
                return i;
            }
        }

        return -1;
    }

    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Once the run ended, whatever the aborted socket throws is that end.")]
    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var socket = _socket!;
        var length = 0;
        // One registration for the loop's life instead of one per receive: ending the run closes the socket.
        using var stop = cancellationToken.UnsafeRegister(static s => ((RawWebSocket)s!).Abort(), socket);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (_paused is { } paused)
                {
                    await paused.Task.WaitAsync(cancellationToken);
                }

                // No token per receive: the loop's one registration aborts the socket when the run ends.
                if (await socket.ReceiveAsync(CancellationToken.None) == 0)
                {
                    if (Connected)
                    {
                        ClosedReason ??= "connection lost: the server closed the connection";
                        Stats.ServerClosed();
                    }

                    break;
                }

                _readMicros = NowMicros;
                var open = ConsumeFrames(socket, ref length);
                if (_deliveredInRead > 0)
                {
                    Stats.DeliveredN(_deliveredInRead);
                    _deliveredInRead = 0;
                }

                if (!open)
                {
                    break;
                }
            }
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The run ended.
        }
        catch (Exception ex) when (ex is SocketException or WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            if (Connected)
            {
                // Not a planned drop: the server (or the network) ended it.
                ClosedReason ??= "connection lost: " + ex.Message;
                Stats.ServerClosed();
            }
        }
        finally
        {
            Connected = false;
        }
    }

    /// <summary>Hands every whole data frame buffered to <see cref="ConsumeRecords"/>, answers pings; false after the
    /// server's close frame.</summary>
    private bool ConsumeFrames(RawWebSocket socket, ref int length)
    {
        while (socket.TryTakeFrame(out var opcode, out var fin, out var payload))
        {
            switch (opcode)
            {
                case WebSocketOpcode.Close:
                    ClosedReason ??= "server closed: " + CloseText(payload);
                    Stats.ServerClosed();
                    return false;
                case WebSocketOpcode.Ping:
                    _ = SendPongAsync(payload.ToArray());
                    continue;
                case WebSocketOpcode.Pong:
                    continue;
            }

            if (length == 0)
            {
                // The usual case, a whole message and nothing left over: read it where it lies.
                var consumed = ConsumeRecords(payload, fin);
                Append(payload[consumed..], ref length);
                continue;
            }

            Append(payload, ref length);
            var taken = ConsumeRecords(_buffer.AsSpan(0, length), fin);
            if (taken > 0)
            {
                _buffer.AsSpan(taken, length - taken).CopyTo(_buffer);
                length -= taken;
            }
        }

        return true;
    }
}

/// <summary>One signal as a closing-bell client received it: when (Unix µs), for which candle close, and the node's stamps.</summary>
internal readonly record struct SignalArrival(long ReceivedMicros, long CandleCloseTimeMs, long NodeReceivedAtMs, long PublishedAtMs);
