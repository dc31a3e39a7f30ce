using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace SignalStream.Testing.FakeExchange;

/// <summary>The WebSocket side: combined streams, live subscriptions, pings and the incoming-message limit.</summary>
public sealed partial class FakeBinanceExchange
{
    private static readonly CompositeFormat UnknownVariant = CompositeFormat.Parse(
        "Invalid request: unknown variant {0}, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 28");

    private volatile bool _refuseConnections;

    /// <summary>
    /// While true, new stream connections are refused (HTTP 503, as an exchange under maintenance answers): whatever
    /// closes meanwhile a client can only get by backfilling. Tests that need "the client is away" set it instead of
    /// racing its reconnect.
    /// </summary>
    public bool RefuseConnections
    {
        get => _refuseConnections;
        set => _refuseConnections = value;
    }

    private async Task HandleStreamAsync(HttpContext context)
    {
        if (_refuseConnections)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        var requested = context.Request.Query["streams"].ToString()
            .Split('/', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (requested.Length > _options.MaxStreamsPerConnection)
        {
            Violation($"connect with {requested.Length} streams (limit {_options.MaxStreamsPerConnection})");
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("Too many streams.");
            return;
        }

        var socket = await ServerWebSocket.AcceptAsync(context);
        if (socket is null)
        {
            return;
        }

        var connection = new FakeConnection(Interlocked.Increment(ref _nextConnectionId), socket, context, _shutdown.Token)
        {
            Combined = context.Request.Path.StartsWithSegments("/stream"),
        };
        connection.Subscribe(requested);
        NoteStreamCount(connection);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        var pings = Task.Run(() => PingLoopAsync(connection));
        try
        {
            await ReadLoopAsync(connection);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidDataException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // The client went away or was dropped: both are normal for this server.
        }
        finally
        {
            connection.Dead = true;
            connection.Closing.Cancel();
            lock (_connections)
            {
                _connections.Remove(connection);
            }

            try
            {
                await pings;
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The ping loop ends with the connection.
            }

            // After this the request ends and Kestrel disposes the HttpContext; an Abort from the teardown or the
            // closing bell must not reach it then.
            connection.MarkEnded();
        }
    }

    private async Task ReadLoopAsync(FakeConnection connection)
    {
        var message = new MemoryStream();
        var token = connection.Closing.Token;
        while (await connection.Socket.ReadFrameAsync(token) is { } frame)
        {
            if (!frame.WasMasked)
            {
                Violation($"connection {connection.Id}: unmasked client frame");
                return;
            }

            if (!connection.CountIncoming(_options.MaxIncomingMessagesPerSecond, frame.Opcode, frame.ArrivedAt, frame.WasBuffered, out var recent))
            {
                Violation($"connection {connection.Id}: more than {_options.MaxIncomingMessagesPerSecond} messages in one second ({recent})");
                connection.Dead = true;
                return;
            }

            switch (frame.Opcode)
            {
                case ServerWebSocket.Ping:
                    await connection.Socket.WriteFrameAsync(ServerWebSocket.Pong, frame.Payload, token);
                    break;
                case ServerWebSocket.Pong:
                    if (connection.MatchPong(frame.Payload))
                    {
                        Interlocked.Increment(ref _pongsMatched);
                    }
                    else if (frame.Payload.Length > 0)
                    {
                        Interlocked.Increment(ref _pongMismatches);
                    }

                    break;
                case ServerWebSocket.Close:
                    if (!connection.CloseSent)
                    {
                        connection.CloseSent = true;
                        await connection.Socket.WriteFrameAsync(ServerWebSocket.Close, frame.Payload.AsMemory(0, Math.Min(2, frame.Payload.Length)), token);
                    }

                    return;
                default:
                    message.Write(frame.Payload);
                    if (frame.Fin)
                    {
                        var reply = HandleControlMessage(connection, message.ToArray());
                        message.SetLength(0);
                        await connection.Socket.WriteFrameAsync(ServerWebSocket.Text, reply, token);
                    }

                    break;
            }
        }
    }

    private async Task PingLoopAsync(FakeConnection connection)
    {
        var token = connection.Closing.Token;
        while (!token.IsCancellationRequested)
        {
            await Task.Delay(_options.PingInterval, token);
            if (connection.OldestPingAge() is { } age && age > _options.PongTimeout)
            {
                Violation($"connection {connection.Id}: no pong within {_options.PongTimeout}");
                connection.Dead = true;
                connection.Abort();
                return;
            }

            var payload = new byte[8];
            Random.Shared.NextBytes(payload);
            connection.AddPing(payload);
            Interlocked.Increment(ref _pingsSent);
            await connection.Socket.WriteFrameAsync(ServerWebSocket.Ping, payload, token);
        }
    }

    /// <summary>SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY and the documented error replies.</summary>
    private byte[] HandleControlMessage(FakeConnection connection, byte[] json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return FakeFrames.Error(3, $"Invalid JSON: expected value at line {(ex.LineNumber ?? 0) + 1} column {(ex.BytePositionInLine ?? 0) + 1}", null, false);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return FakeFrames.Error(3, "Invalid JSON: expected value at line 1 column 1", null, false);
            }

            string? id = null;
            if (!root.TryGetProperty("id", out var idElement) || !TryReadId(idElement, out id))
            {
                return FakeFrames.Error(2, "Invalid request: request ID must be an unsigned integer", null, false);
            }

            if (!root.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
            {
                return FakeFrames.Error(2, "Invalid request: missing field `method` at line 1 column 73", id, false);
            }

            var method = methodElement.GetString()!;
            var parameters = root.TryGetProperty("params", out var p) && p.ValueKind == JsonValueKind.Array
                ? p.EnumerateArray().ToArray()
                : [];
            lock (_recordLock)
            {
                _controlMessages.Add(new ControlMessage(connection.Id, method,
                    parameters.Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()).ToArray(), id));
            }

            switch (method)
            {
                case "SUBSCRIBE":
                case "UNSUBSCRIBE":
                    if (parameters.Any(e => e.ValueKind != JsonValueKind.String))
                    {
                        return FakeFrames.Error(2, "Invalid request: stream names must be strings", id, true);
                    }

                    var names = parameters.Select(e => e.GetString()!).ToArray();
                    if (method == "SUBSCRIBE")
                    {
                        if (connection.StreamCount + names.Count(n => !connection.IsSubscribed(n)) > _options.MaxStreamsPerConnection)
                        {
                            Violation($"connection {connection.Id}: SUBSCRIBE beyond {_options.MaxStreamsPerConnection} streams");
                            return FakeFrames.Error(2, $"Invalid request: a connection can listen to at most {_options.MaxStreamsPerConnection} streams", id, true);
                        }

                        connection.Subscribe(names);
                        NoteStreamCount(connection);
                    }
                    else
                    {
                        connection.Unsubscribe(names);
                    }

                    return FakeFrames.Reply(id, w => w.WriteNullValue());
                case "LIST_SUBSCRIPTIONS":
                    var list = connection.Subscriptions();
                    return FakeFrames.Reply(id, w =>
                    {
                        w.WriteStartArray();
                        foreach (var name in list)
                        {
                            w.WriteStringValue(name);
                        }

                        w.WriteEndArray();
                    });
                case "SET_PROPERTY":
                    if (parameters.Length != 2)
                    {
                        return FakeFrames.Error(2, "Invalid request: too many parameters", id, false);
                    }

                    if (parameters[0].ValueKind != JsonValueKind.String)
                    {
                        return FakeFrames.Error(2, "Invalid request: property name must be a string", id, false);
                    }

                    if (parameters[0].GetString() != "combined")
                    {
                        return FakeFrames.Error(0, "Unknown property", id, true);
                    }

                    if (parameters[1].ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        return FakeFrames.Error(1, "Invalid value type: expected Boolean", id, false);
                    }

                    connection.Combined = parameters[1].ValueKind == JsonValueKind.True;
                    return FakeFrames.Reply(id, w => w.WriteNullValue());
                case "GET_PROPERTY":
                    if (parameters.Length != 1 || parameters[0].ValueKind != JsonValueKind.String)
                    {
                        return FakeFrames.Error(2, "Invalid request: property name must be a string", id, false);
                    }

                    return parameters[0].GetString() == "combined"
                        ? FakeFrames.Reply(id, w => w.WriteBooleanValue(connection.Combined))
                        : FakeFrames.Error(0, "Unknown property", id, true);
                default:
                    return FakeFrames.Error(2, string.Format(System.Globalization.CultureInfo.InvariantCulture, UnknownVariant, method), id, false);
            }
        }
    }

    // Binance accepts a 64-bit integer, an alphanumeric string of at most 36 characters, or null.
    private static bool TryReadId(JsonElement element, out string? id)
    {
        id = null;
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return true;
            case JsonValueKind.Number when element.TryGetInt64(out var n):
                id = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return true;
            case JsonValueKind.String:
                var s = element.GetString()!;
                id = s;
                return s.Length is > 0 and <= 36 && s.All(char.IsAsciiLetterOrDigit);
            default:
                return false;
        }
    }

    private void NoteStreamCount(FakeConnection connection)
    {
        var count = connection.StreamCount;
        int current;
        while (count > (current = Volatile.Read(ref _maxStreamsOnOneConnection)))
        {
            Interlocked.CompareExchange(ref _maxStreamsOnOneConnection, count, current);
        }
    }

    /// <summary>One client connection as the fake sees it.</summary>
    private sealed class FakeConnection(int id, ServerWebSocket socket, HttpContext context, CancellationToken serverStopping)
    {
        private readonly HashSet<string> _streams = new(StringComparer.Ordinal);
        private readonly Queue<(long At, byte Opcode, bool Buffered)> _arrivals = new();
        private readonly List<(byte[] Payload, long SentAt)> _pings = [];

        public int Id { get; } = id;

        public ServerWebSocket Socket { get; } = socket;

        private readonly Lock _endLock = new();
        private bool _ended;

        public CancellationTokenSource Closing { get; } = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);

        public volatile bool Dead;
        public volatile bool Stalled;
        public volatile bool ShuttingDown;
        public volatile bool Combined = true;
        public bool CloseSent;

        /// <summary>Whether data frames may be written to it now.</summary>
        public bool Healthy => !Dead && !Stalled && !ShuttingDown;

        public int StreamCount
        {
            get
            {
                lock (_streams)
                {
                    return _streams.Count;
                }
            }
        }

        public void Subscribe(IEnumerable<string> names)
        {
            lock (_streams)
            {
                _streams.UnionWith(names);
            }
        }

        public void Unsubscribe(IEnumerable<string> names)
        {
            lock (_streams)
            {
                _streams.ExceptWith(names);
            }
        }

        public bool IsSubscribed(string name)
        {
            lock (_streams)
            {
                return _streams.Contains(name);
            }
        }

        public string[] Subscriptions()
        {
            lock (_streams)
            {
                return _streams.Order(StringComparer.Ordinal).ToArray();
            }
        }

        /// <summary>Counts a message; false when it is the (limit+1)-th within one second.</summary>
        /// <remarks>
        /// A window that starts with a message the fake read late (already buffered) cannot be timed: on a starved
        /// machine well-paced messages pile up unread and would look like a burst. A real burst is still caught,
        /// because its first message finds the reader waiting.
        /// </remarks>
        public bool CountIncoming(int limit, byte opcode, long arrivedAt, bool wasBuffered, out string recent)
        {
            var now = arrivedAt;
            lock (_arrivals)
            {
                _arrivals.Enqueue((now, opcode, wasBuffered));
                while (_arrivals.Count > limit + 1)
                {
                    _arrivals.Dequeue();
                }

                var ok = _arrivals.Count <= limit || _arrivals.Peek().Buffered
                         || Stopwatch.GetElapsedTime(_arrivals.Peek().At, now) >= TimeSpan.FromSeconds(1);
                var first = _arrivals.Peek().At;
                recent = ok ? "" : string.Join(", ", _arrivals.Select(a => $"opcode {a.Opcode} at +{Stopwatch.GetElapsedTime(first, a.At).TotalMilliseconds:F0} ms"));
                return ok;
            }
        }

        public void AddPing(byte[] payload)
        {
            lock (_pings)
            {
                _pings.Add((payload, Stopwatch.GetTimestamp()));
            }
        }

        public bool MatchPong(byte[] payload)
        {
            lock (_pings)
            {
                var index = _pings.FindIndex(p => p.Payload.AsSpan().SequenceEqual(payload));
                if (index < 0)
                {
                    return false;
                }

                // A pong answers that ping and any earlier one (Binance only needs a pong within the minute).
                _pings.RemoveRange(0, index + 1);
                return true;
            }
        }

        public TimeSpan? OldestPingAge()
        {
            lock (_pings)
            {
                return _pings.Count == 0 ? null : Stopwatch.GetElapsedTime(_pings[0].SentAt);
            }
        }

        public void Abort()
        {
            lock (_endLock)
            {
                if (!_ended)
                {
                    context.Abort();
                }
            }
        }

        public void MarkEnded()
        {
            lock (_endLock)
            {
                _ended = true;
            }
        }
    }
}
