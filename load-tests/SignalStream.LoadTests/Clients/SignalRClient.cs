using System.Buffers.Text;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// A lean SignalR JSON-protocol client (docs: aspnetcore <c>src/SignalR/docs/specs/HubProtocol.md</c>): handshake
/// <c>{"protocol":"json","version":1}</c> + 0x1e, records separated by 0x1e, ping record <c>{"type":6}</c> every
/// 10 s, <c>Subscribe</c> invocations; from each <c>signal</c> invocation only seq, symbol and the latency origin are
/// read. It drives SignalStream and the SignalR peer alike; a Subscribe answer without <c>latestSeq</c> (the peer's) starts
/// the ledger at the first arrival. SignalR writes an invocation as <c>{"type":1,"target":…,"arguments":[…]}</c>, so a signal is recognized by its
/// prefix and its object searched (<see cref="FanOutClient.TryObserveSignal"/>); every other record is tokenized.
/// </summary>
internal sealed class SignalRClient : FanOutClient
{
    private const byte RecordSeparator = 0x1e;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");
    private static readonly byte[] SignalTarget = "signal"u8.ToArray();
    private static readonly byte[] CandleTarget = "candle"u8.ToArray();
    private static readonly byte[] SignalInvocation = "{\"type\":1,\"target\":\"signal\",\"arguments\":[{"u8.ToArray();
    private readonly long[] _recovered = new long[1024];
    private readonly long?[] _afterSeq;

    public SignalRClient(int id, IReadOnlyList<string> symbols, ClientStats stats, bool slow, ClientMeasurement measurement)
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

    public override ValueTask PingAsync(CancellationToken cancellationToken) => SendAsync(Ping, cancellationToken);

    protected override Task SubscribeAsync(int index, long? afterSeq, CancellationToken cancellationToken)
    {
        _afterSeq[index] = afterSeq;
        Ledgers[index].AwaitAnswer();
        var symbol = Ledgers[index].Symbol;
        var after = afterSeq is long a ? ",\"afterSeq\":" + a.ToString(CultureInfo.InvariantCulture) : "";
        var text = $"{{\"type\":1,\"invocationId\":\"{index}\",\"target\":\"Subscribe\",\"arguments\":[{{\"symbol\":\"{symbol}\"{after}}}]}}\u001e";
        return SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken).AsTask();
    }

    public override async Task SubscribeCandlesAsync(IEnumerable<(string Symbol, string Timeframe)> streams, CancellationToken cancellationToken)
    {
        foreach (var (symbol, timeframe) in streams)
        {
            var text = $"{{\"type\":1,\"target\":\"SubscribeCandles\",\"arguments\":[\"{symbol}\",\"{timeframe}\"]}}\u001e";
            await SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        }
    }

    protected override int ConsumeRecords(ReadOnlySpan<byte> data, bool endOfMessage)
    {
        var consumed = 0;
        while (true)
        {
            var end = data[consumed..].IndexOf(RecordSeparator);
            if (end < 0)
            {
                return consumed;
            }

            OnRecord(data.Slice(consumed, end));
            consumed += end + 1;
        }
    }

    protected override void OnRecord(ReadOnlySpan<byte> record)
    {
        if (record.StartsWith(SignalInvocation) && TryObserveSignal(record[(SignalInvocation.Length - 1)..]))
        {
            return;
        }

        var reader = new Utf8JsonReader(record, isFinalBlock: true, state: default);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            Stats.Error("not a JSON object record");
            return;
        }

        int type = 0, ledger = -1, invocation = -1, recoveredCount = 0;
        long seq = -1, exchangeTime = 0, latestSeq = -1, closeTime = 0;
        bool isSignal = false, isCandle = false, isClosed = false, hasError = false;
        string? error = null, timeframe = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                type = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("target"u8))
            {
                reader.Read();
                isSignal = reader.ValueTextEquals(SignalTarget);
                isCandle = reader.ValueTextEquals(CandleTarget);
            }
            else if (reader.ValueTextEquals("invocationId"u8))
            {
                reader.Read();
                invocation = Utf8Parser.TryParse(reader.ValueSpan, out int id, out _) ? id : -1;
            }
            else if (reader.ValueTextEquals("arguments"u8))
            {
                reader.Read();
                if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadPayload(ref reader, ref ledger, ref seq, ref exchangeTime, ref closeTime, ref isClosed, ref timeframe);
                }

                while (reader.TokenType != JsonTokenType.EndArray)
                {
                    reader.Skip();
                    reader.Read();
                }
            }
            else if (reader.ValueTextEquals("result"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    recoveredCount = ReadSubscribeResult(ref reader, ref ledger, ref latestSeq);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                hasError = true;
                error = reader.GetString();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        switch (type)
        {
            case 1 when isSignal && ledger >= 0:
                ObserveSignal(ledger, seq, exchangeTime);
                break;
            case 1 when isCandle && isClosed:
                Stats.Candle1();
                AddClosed(timeframe ?? "?", closeTime);
                break;
            case 3 when invocation >= 0 && invocation < Ledgers.Length:
                if (hasError)
                {
                    Stats.Error("Subscribe failed: " + error);
                }
                else if (latestSeq < 0)
                {
                    // No latestSeq (the SignalR peer keeps no history; SignalStream always answers one): like the Socket.IO
                    // peer, the first arrival starts the ledger and what a re-join missed counts as a gap.
                    Ledgers[invocation].StartAtFirstArrival();
                }
                else
                {
                    Ledgers[invocation].Start(_afterSeq[invocation] ?? -1, latestSeq, _recovered.AsSpan(0, recoveredCount));
                    if (_afterSeq[invocation] is not null)
                    {
                        Stats.RecoveredN(recoveredCount);
                    }
                }

                Interlocked.Decrement(ref PendingSubscribes);
                break;
            case 3 when hasError:
                Stats.Error("invocation failed: " + error);
                break;
            case 7:
                ClosedReason = "server close message: " + (error ?? "no reason");
                break;
        }
    }

    private void ReadPayload(ref Utf8JsonReader reader, ref int ledger, ref long seq, ref long exchangeTime, ref long closeTime,
        ref bool isClosed, ref string? timeframe)
    {
        string? symbol = null;
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
                if (ledger < 0)
                {
                    symbol = reader.GetString();
                }
            }
            else if (reader.ValueTextEquals(Measurement.OriginName))
            {
                reader.Read();
                exchangeTime = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("closeTime"u8))
            {
                reader.Read();
                closeTime = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("isClosed"u8))
            {
                reader.Read();
                isClosed = reader.GetBoolean();
            }
            else if (reader.ValueTextEquals("timeframe"u8))
            {
                reader.Read();
                timeframe = reader.GetString();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (isClosed && timeframe is not null)
        {
            // Candle events are few (closing bell only): the stream name may allocate.
            timeframe = (symbol ?? (ledger >= 0 ? Ledgers[ledger].Symbol : "?")) + "@" + timeframe;
        }
    }

    private int ReadSubscribeResult(ref Utf8JsonReader reader, ref int ledger, ref long latestSeq)
    {
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("latestSeq"u8))
            {
                reader.Read();
                latestSeq = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("signals"u8))
            {
                reader.Read();
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isSeq = reader.ValueTextEquals("seq"u8);
                        reader.Read();
                        if (isSeq && count < _recovered.Length)
                        {
                            _recovered[count++] = reader.GetInt64();
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
                reader.Read();
                reader.Skip();
            }
        }

        return count;
    }
}
