using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// A lean Socket.IO v4 client over the WebSocket transport only (Engine.IO 4 packets: <c>0</c> open, <c>2</c>/<c>3</c>
/// ping/pong, <c>4</c> message; Socket.IO packets inside: <c>0</c> connect, <c>2</c> event, <c>3</c> ack) for the peer
/// server. Socket.IO has no resume: after a reconnect a client simply joins the room again.
/// </summary>
internal sealed class SocketIoClient : FanOutClient
{
    private static readonly byte[] Pong = "3"u8.ToArray();
    private static readonly byte[] Connect = "40"u8.ToArray();
    private static readonly byte[] SignalEvent = "42[\"signal\",{"u8.ToArray();

    public SocketIoClient(int id, IReadOnlyList<string> symbols, ClientStats stats, bool slow, ClientMeasurement measurement)
        : base(id, symbols, stats, slow, measurement)
    {
    }

    protected override Uri EndpointOf(Uri server) => new(server, "/socket.io/?EIO=4&transport=websocket");

    protected override async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var open = await ReceiveTextAsync(cancellationToken);
        if (!open.StartsWith('0'))
        {
            throw new WebSocketException("Engine.IO open packet expected, got: " + open);
        }

        await SendAsync(Connect, cancellationToken);
        var connected = await ReceiveTextAsync(cancellationToken);
        if (!connected.StartsWith("40", StringComparison.Ordinal))
        {
            throw new WebSocketException("Socket.IO connect refused: " + connected);
        }
    }

    protected override Task SubscribeAsync(int index, long? afterSeq, CancellationToken cancellationToken)
    {
        // Ack id = ledger index; afterSeq is ignored by design (the peer cannot resume).
        var text = $"42{index}[\"subscribe\",{{\"symbol\":\"{Ledgers[index].Symbol}\"}}]";
        return SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken).AsTask();
    }

    protected override int ConsumeRecords(ReadOnlySpan<byte> data, bool endOfMessage)
    {
        if (!endOfMessage)
        {
            return 0;
        }

        OnRecord(data);
        return data.Length;
    }

    protected override void OnRecord(ReadOnlySpan<byte> record)
    {
        // The same search as the SignalR client's (equal parsing effort on both sides of the comparison).
        if (record.StartsWith(SignalEvent) && TryObserveSignal(record[(SignalEvent.Length - 1)..]))
        {
            return;
        }

        if (record.Length == 1 && record[0] == (byte)'2')
        {
            _ = SendAsync(Pong, CancellationToken.None).AsTask();
            return;
        }

        if (record.Length < 3 || record[0] != (byte)'4')
        {
            return;
        }

        if (record[1] == (byte)'3')
        {
            // Ack of a subscribe: "43<id>[...]". The peer has no latestSeq: the first arrival starts the ledger.
            var digits = record[2..];
            var end = digits.IndexOf((byte)'[');
            if (end > 0 && System.Buffers.Text.Utf8Parser.TryParse(digits[..end], out int index, out _) && index < Ledgers.Length)
            {
                Ledgers[index].StartAtFirstArrival();
                Interlocked.Decrement(ref PendingSubscribes);
            }

            return;
        }

        if (record[1] == (byte)'1')
        {
            ClosedReason = "server disconnected the socket";
            return;
        }

        if (record[1] != (byte)'2')
        {
            return;
        }

        var reader = new Utf8JsonReader(record[2..], isFinalBlock: true, state: default);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !reader.Read() || !reader.ValueTextEquals("signal"u8))
        {
            return;
        }

        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return;
        }

        int ledger = -1;
        long seq = -1, exchangeTime = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                seq = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("symbol"u8))
            {
                reader.Read();
                ledger = LedgerOf(ref reader);
            }
            else if (reader.ValueTextEquals(Measurement.OriginName))
            {
                reader.Read();
                exchangeTime = reader.GetInt64();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (ledger >= 0)
        {
            ObserveSignal(ledger, seq, exchangeTime);
        }
    }
}
