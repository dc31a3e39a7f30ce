using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// A lean SignalR MessagePack-protocol client (<c>--protocol messagepack</c>; aspnetcore
/// <c>src/SignalR/docs/specs/HubProtocol.md</c>, "MessagePack encoding"): the handshake is
/// <c>{"protocol":"messagepack","version":1}</c> + 0x1e, then every message is a VarInt length prefix and an array in
/// a binary frame; ping <c>[6]</c> every 10 s; <c>Subscribe</c> invocations. From each <c>signal</c> invocation only seq,
/// symbol and the latency stamps are read, with <see cref="MessagePackSpanReader"/>: nothing is allocated per message.
/// It drives SignalStream (the SignalR peer serves JSON only).
/// </summary>
internal sealed class SignalRMessagePackClient : FanOutClient
{
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"messagepack\",\"version\":1}\u001e");
    private static readonly byte[] Ping = [0x02, 0x91, 0x06];
    private readonly long[] _recovered = new long[1024];
    private readonly long?[] _afterSeq;

    public SignalRMessagePackClient(int id, IReadOnlyList<string> symbols, ClientStats stats, bool slow, ClientMeasurement measurement)
        : base(id, symbols, stats, slow, measurement) => _afterSeq = new long?[symbols.Count];

    protected override Uri EndpointOf(Uri server) => new(server, "/hubs/signals");

    protected override async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        await SendAsync(Handshake, cancellationToken);
        var answer = await ReceiveTextAsync(cancellationToken);
        if (!answer.StartsWith("{}", StringComparison.Ordinal))
        {
            throw new WebSocketException("SignalR handshake refused: " + answer.TrimEnd('\u001e'));
        }
    }

    public override ValueTask PingAsync(CancellationToken cancellationToken) => SendAsync(Ping, cancellationToken, binary: true);

    protected override Task SubscribeAsync(int index, long? afterSeq, CancellationToken cancellationToken)
    {
        _afterSeq[index] = afterSeq;
        Ledgers[index].AwaitAnswer();
        var message = new MessagePackBytes();
        message.ArrayHeader(6).Int(1).MapHeader(0).String(index.ToString(System.Globalization.CultureInfo.InvariantCulture)).String("Subscribe").ArrayHeader(1);
        message.MapHeader(afterSeq is null ? 1 : 2).String("symbol").String(Ledgers[index].Symbol);
        if (afterSeq is long after)
        {
            message.String("afterSeq").Int(after);
        }

        message.ArrayHeader(0);
        return SendAsync(message.Prefixed(), cancellationToken, binary: true).AsTask();
    }

    public override async Task SubscribeCandlesAsync(IEnumerable<(string Symbol, string Timeframe)> streams, CancellationToken cancellationToken)
    {
        foreach (var (symbol, timeframe) in streams)
        {
            var message = new MessagePackBytes();
            message.ArrayHeader(6).Int(1).MapHeader(0).Nil().String("SubscribeCandles").ArrayHeader(2).String(symbol).String(timeframe).ArrayHeader(0);
            await SendAsync(message.Prefixed(), cancellationToken, binary: true);
        }
    }

    /// <summary>Takes whole length-prefixed records; a record cut by the end of what was received waits for the rest.</summary>
    protected override int ConsumeRecords(ReadOnlySpan<byte> data, bool endOfMessage)
    {
        var consumed = 0;
        while (TryPrefix(data[consumed..], out var prefix, out var length) && data.Length - consumed - prefix >= length)
        {
            OnRecord(data.Slice(consumed + prefix, length));
            consumed += prefix + length;
        }

        return consumed;
    }

    protected override void OnRecord(ReadOnlySpan<byte> record)
    {
        try
        {
            Handle(record);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            Stats.Error("not a MessagePack hub record: " + ex.Message);
        }
    }

    private void Handle(ReadOnlySpan<byte> record)
    {
        var reader = new MessagePackSpanReader(record);
        var items = reader.ReadArrayHeader();
        switch (reader.ReadInt64())
        {
            case 1:
                reader.Skip(); // headers
                reader.Skip(); // invocation id
                var target = reader.ReadString();
                if (reader.ReadArrayHeader() < 1)
                {
                    return;
                }

                if (target.SequenceEqual("signal"u8))
                {
                    ReadSignal(ref reader);
                }
                else if (target.SequenceEqual("candle"u8))
                {
                    ReadCandle(ref reader);
                }

                break;
            case 3:
                reader.Skip();
                var invocation = Utf8Parser.TryParse(reader.ReadString(), out int id, out _) ? id : -1;
                switch (reader.ReadInt64())
                {
                    case 1:
                        var error = Encoding.UTF8.GetString(reader.ReadString());
                        Stats.Error((invocation >= 0 && invocation < Ledgers.Length ? "Subscribe failed: " : "invocation failed: ") + error);
                        if (invocation >= 0 && invocation < Ledgers.Length)
                        {
                            Interlocked.Decrement(ref PendingSubscribes);
                        }

                        break;
                    case 3 when invocation >= 0 && invocation < Ledgers.Length:
                        var latestSeq = -1L;
                        var count = ReadSubscribeResult(ref reader, ref latestSeq);
                        Ledgers[invocation].Start(_afterSeq[invocation] ?? -1, latestSeq, _recovered.AsSpan(0, count));
                        if (_afterSeq[invocation] is not null)
                        {
                            Stats.RecoveredN(count);
                        }

                        Interlocked.Decrement(ref PendingSubscribes);
                        break;
                }

                break;
            case 7 when items >= 2:
                ClosedReason = "server close message: " + (reader.TryReadNil() ? "no reason" : Encoding.UTF8.GetString(reader.ReadString()));
                break;
        }
    }

    private void ReadSignal(ref MessagePackSpanReader reader)
    {
        long seq = -1, origin = 0, closeTime = 0, receivedAt = 0, publishedAt = 0;
        var ledger = -1;
        for (var fields = reader.ReadMapHeader(); fields > 0; fields--)
        {
            var key = reader.ReadString();
            if (key.SequenceEqual("seq"u8))
            {
                seq = reader.ReadInt64();
            }
            else if (key.SequenceEqual("symbol"u8))
            {
                ledger = LedgerOf(reader.ReadString());
            }
            else if (key.SequenceEqual(Measurement.OriginUtf8) || key.SequenceEqual("candleCloseTime"u8) || key.SequenceEqual("receivedAt"u8)
                || key.SequenceEqual("publishedAt"u8))
            {
                var time = reader.ReadInt64();
                origin = key.SequenceEqual(Measurement.OriginUtf8) ? time : origin;
                closeTime = key.SequenceEqual("candleCloseTime"u8) ? time : closeTime;
                receivedAt = key.SequenceEqual("receivedAt"u8) ? time : receivedAt;
                publishedAt = key.SequenceEqual("publishedAt"u8) ? time : publishedAt;
            }
            else
            {
                reader.Skip();
            }
        }

        if (ledger >= 0 && seq >= 0)
        {
            ObserveSignal(ledger, seq, origin, closeTime, receivedAt, publishedAt);
        }
    }

    private void ReadCandle(ref MessagePackSpanReader reader)
    {
        long closeTime = 0;
        var closed = false;
        var symbol = ReadOnlySpan<byte>.Empty;
        var timeframe = ReadOnlySpan<byte>.Empty;
        for (var fields = reader.ReadMapHeader(); fields > 0; fields--)
        {
            var key = reader.ReadString();
            if (key.SequenceEqual("symbol"u8))
            {
                symbol = reader.ReadString();
            }
            else if (key.SequenceEqual("timeframe"u8))
            {
                timeframe = reader.ReadString();
            }
            else if (key.SequenceEqual("closeTime"u8))
            {
                closeTime = reader.ReadInt64();
            }
            else if (key.SequenceEqual("isClosed"u8))
            {
                closed = reader.ReadBoolean();
            }
            else
            {
                reader.Skip();
            }
        }

        if (closed)
        {
            // Candle events are few (closing bell only): the stream name may allocate.
            Stats.Candle1();
            AddClosed(Encoding.UTF8.GetString(symbol) + "@" + Encoding.UTF8.GetString(timeframe), closeTime);
        }
    }

    private int ReadSubscribeResult(ref MessagePackSpanReader reader, ref long latestSeq)
    {
        var count = 0;
        for (var fields = reader.ReadMapHeader(); fields > 0; fields--)
        {
            var key = reader.ReadString();
            if (key.SequenceEqual("latestSeq"u8))
            {
                latestSeq = reader.ReadInt64();
            }
            else if (key.SequenceEqual("signals"u8))
            {
                for (var signals = reader.ReadArrayHeader(); signals > 0; signals--)
                {
                    for (var signalFields = reader.ReadMapHeader(); signalFields > 0; signalFields--)
                    {
                        if (reader.ReadString().SequenceEqual("seq"u8) && count < _recovered.Length)
                        {
                            _recovered[count++] = reader.ReadInt64();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return count;
    }

    /// <summary>A record's VarInt length prefix (7 bits a byte, low first); false until all of it has arrived.</summary>
    private static bool TryPrefix(ReadOnlySpan<byte> data, out int prefix, out int length)
    {
        length = 0;
        for (prefix = 0; prefix < Math.Min(5, data.Length); prefix++)
        {
            length |= (data[prefix] & 0x7f) << (7 * prefix);
            if ((data[prefix] & 0x80) == 0)
            {
                prefix++;
                return true;
            }
        }

        return false;
    }

    /// <summary>The few MessagePack forms a client sends (invocations of Subscribe and SubscribeCandles).</summary>
    private sealed class MessagePackBytes
    {
        private readonly List<byte> _bytes = [];

        public MessagePackBytes ArrayHeader(int count) => Header(0x90, 0xdc, count);

        public MessagePackBytes MapHeader(int count) => Header(0x80, 0xde, count);

        public MessagePackBytes Nil()
        {
            _bytes.Add(0xc0);
            return this;
        }

        public MessagePackBytes Int(long value)
        {
            if (value is >= 0 and <= 0x7f)
            {
                _bytes.Add((byte)value);
                return this;
            }

            _bytes.Add(0xd3);
            for (var shift = 56; shift >= 0; shift -= 8)
            {
                _bytes.Add((byte)(value >> shift));
            }

            return this;
        }

        public MessagePackBytes String(string value)
        {
            var utf8 = Encoding.UTF8.GetBytes(value);
            if (utf8.Length <= 31)
            {
                _bytes.Add((byte)(0xa0 | utf8.Length));
            }
            else
            {
                _bytes.Add(0xd9);
                _bytes.Add(checked((byte)utf8.Length));
            }

            _bytes.AddRange(utf8);
            return this;
        }

        public byte[] Prefixed()
        {
            var prefix = new List<byte>(5);
            var left = (uint)_bytes.Count;
            do
            {
                var next = (byte)(left & 0x7f);
                left >>= 7;
                prefix.Add(left > 0 ? (byte)(next | 0x80) : next);
            }
            while (left > 0);

            return [.. prefix, .. _bytes];
        }

        private MessagePackBytes Header(byte fix, byte sixteen, int count)
        {
            if (count <= 15)
            {
                _bytes.Add((byte)(fix | count));
            }
            else
            {
                _bytes.Add(sixteen);
                _bytes.Add((byte)(count >> 8));
                _bytes.Add((byte)count);
            }

            return this;
        }
    }
}
