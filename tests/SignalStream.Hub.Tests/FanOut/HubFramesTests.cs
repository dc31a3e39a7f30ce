using System.Buffers;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// The frames the fan-out writes itself: in MessagePack, byte for byte what SignalR's own MessagePack protocol writes for
/// the same message (so any SignalR client reads them), in a binary WebSocket frame; and one serialization per message
/// and protocol, only for the protocols its receivers speak.
/// </summary>
public sealed class HubFramesTests
{
    public static TheoryData<string> Messages => ["signal", "signal with a 20 KB rationale", "shadow signal from a TradingView source", "outcome", "candle"];

    [Theory]
    [MemberData(nameof(Messages))]
    public void AMessagePackInvocationIsByteForByteWhatSignalRsProtocolWrites(string kind)
    {
        var (target, argument, message) = Make(kind);

        var frame = message.FrameFor(WireProtocol.MessagePack);

        var expected = new ArrayBufferWriter<byte>();
        MessagePackFrames.Protocol.WriteMessage(new InvocationMessage(target, [argument]), expected);
        Assert.Equal(expected.WrittenSpan.ToArray(), frame.Record.ToArray());
    }

    [Theory]
    [InlineData("Disconnected as a slow consumer: read faster, then resume with afterSeq.", true)]
    [InlineData("Closed for invocation flooding.", false)]
    public void AMessagePackCloseIsByteForByteWhatSignalRsProtocolWrites(string reason, bool allowReconnect)
    {
        var frame = HubFrames.Close(reason, allowReconnect, WireProtocol.MessagePack);

        var expected = new ArrayBufferWriter<byte>();
        MessagePackFrames.Protocol.WriteMessage(new CloseMessage(reason, allowReconnect), expected);
        Assert.Equal(expected.WrittenSpan.ToArray(), frame.Record.ToArray());
    }

    [Fact]
    public void ASignalReadBackThroughSignalRsMessagePackProtocolIsTheSignalSent()
    {
        var (_, argument, message) = Make("shadow signal from a TradingView source");
        var sent = (Signal)argument;

        var record = new ReadOnlySequence<byte>(message.FrameFor(WireProtocol.MessagePack).Record);
        Assert.True(MessagePackFrames.Protocol.TryParseMessage(ref record, new SignalBinder(), out var parsed));

        var received = Assert.IsType<Signal>(Assert.IsType<InvocationMessage>(parsed).Arguments[0]);
        Assert.Equal(Json(sent), Json(received));
    }

    [Fact]
    public void MessagePackGoesInBinaryFramesAndJsonInTextFramesEachNamedForItsProtocol()
    {
        var (_, _, message) = Make("signal");

        var json = message.FrameFor(WireProtocol.Json);
        var messagePack = message.FrameFor(WireProtocol.MessagePack);

        Assert.Equal(0x81, json.WebSocketFrame.Span[0]); // FIN, text
        Assert.Equal(0x82, messagePack.WebSocketFrame.Span[0]); // FIN, binary
        Assert.Equal(0x1e, json.Record.Span[^1]);
        Assert.Equal(json.Record.ToArray(), json.Message.GetSerializedMessage(new JsonHubProtocol()).ToArray());
        Assert.Equal(messagePack.Record.ToArray(), messagePack.Message.GetSerializedMessage(MessagePackFrames.Protocol).ToArray());
    }

    [Fact]
    public void AMessageIsSerializedOncePerProtocolAndOnlyForTheProtocolsAskedFor()
    {
        var message = new CountingMessage();

        Parallel.For(0, 10_000, _ => message.FrameFor(WireProtocol.Json));

        Assert.Equal(1, message.Writes(WireProtocol.Json));
        Assert.Equal(0, message.Writes(WireProtocol.MessagePack));

        Parallel.For(0, 10_000, i => message.FrameFor(i % 2 == 0 ? WireProtocol.Json : WireProtocol.MessagePack));

        Assert.Equal(1, message.Writes(WireProtocol.Json));
        Assert.Equal(1, message.Writes(WireProtocol.MessagePack));
        Assert.Same(message.FrameFor(WireProtocol.MessagePack), message.FrameFor(WireProtocol.MessagePack));
    }

    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(127, new byte[] { 0x7f })]
    [InlineData(128, new byte[] { 0x80, 0x01 })]
    [InlineData(16_384, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(int.MaxValue, new byte[] { 0xff, 0xff, 0xff, 0xff, 0x07 })]
    public void TheLengthPrefixIsAVarIntOfSevenBitGroupsLowFirst(int length, byte[] expected)
    {
        Span<byte> prefix = stackalloc byte[5];
        var written = MessagePackFrames.WriteLengthPrefix(length, prefix);
        Assert.Equal(expected, prefix[..written].ToArray());
    }

    /// <summary>
    /// The TypeScript SDK's unit tests decode the server's own frames (clients/typescript/test/unit/fixtures): the JSON
    /// record and the MessagePack record of the same signal, outcome and candle, which it must turn into equal objects.
    /// This keeps that fixture what the server writes now; <c>SIGNALSTREAM_WRITE_FIXTURES=1</c> rewrites it.
    /// </summary>
    [Fact]
    public void TheTypeScriptSdksFixtureHoldsTheFramesTheServerWritesNow()
    {
        var path = Path.Combine(Observability.ExternalTool.RepositoryRoot(), "clients", "typescript", "test", "unit", "fixtures", "hub-frames.json");
        var fixture = new System.Text.Json.Nodes.JsonObject();
        foreach (var kind in new[] { "shadow signal from a TradingView source", "outcome", "candle" })
        {
            var (target, _, message) = Make(kind);
            fixture[kind] = new System.Text.Json.Nodes.JsonObject
            {
                ["target"] = target,
                ["json"] = System.Text.Encoding.UTF8.GetString(message.FrameFor(WireProtocol.Json).Record.Span),
                ["messagepack"] = Convert.ToBase64String(message.FrameFor(WireProtocol.MessagePack).Record.Span),
            };
        }

        var expected = fixture.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n";
        if (Environment.GetEnvironmentVariable("SIGNALSTREAM_WRITE_FIXTURES") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, expected);
        }

        Assert.True(File.Exists(path) && File.ReadAllText(path) == expected,
            $"{path} is not what the server writes now: run this test with SIGNALSTREAM_WRITE_FIXTURES=1 and commit the file.");
    }

    private static (string Target, object Argument, OutboundMessage Message) Make(string kind)
    {
        var signal = TestSignals.Signal("BTCUSDT", 42) with { Entry = 97_123.12345678m, PublishedAt = TestSignals.BaseTime + 5 };
        switch (kind)
        {
            case "signal":
                return (HubNames.SignalEvent, signal, HubFrames.Invocation(HubNames.SignalEvent, signal, ContractsJsonContext.Default.Signal));
            case "signal with a 20 KB rationale":
                var wordy = signal with { Rationale = [new string('r', 20_000)] };
                return (HubNames.SignalEvent, wordy, HubFrames.Invocation(HubNames.SignalEvent, wordy, ContractsJsonContext.Default.Signal));
            case "shadow signal from a TradingView source":
                var shadow = signal with
                {
                    Source = SignalSources.TradingView("desk"),
                    Timeframe = Timeframe.OneMonth,
                    Models =
                    [
                        new ModelVote("tv", "2", SignalSources.TradingViewFamily, "short", 1, new ClassProbabilities(0.7, 0.2, 0.1)),
                        new ModelVote("lstm-direction", "1.3.0", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.15, 0.75)) { IsShadow = true },
                    ],
                };
                return (HubNames.SignalEvent, shadow, HubFrames.Invocation(HubNames.SignalEvent, shadow, ContractsJsonContext.Default.Signal));
            case "outcome":
                var outcome = TestSignals.Outcome(signal) with { Outcome = OutcomeKind.Expired, RMultiple = -0.25 };
                return (HubNames.SignalResolvedEvent, outcome, HubFrames.Invocation(HubNames.SignalResolvedEvent, outcome, ContractsJsonContext.Default.SignalOutcome));
            default:
                var candle = CandleMessage.From(TestSignals.Candle("ETHUSDT", Timeframe.FifteenMinutes, 3, closed: false));
                return (HubNames.CandleEvent, candle, HubFrames.Invocation(HubNames.CandleEvent, candle, ContractsJsonContext.Default.CandleMessage));
        }
    }

    private static string Json(Signal signal) => System.Text.Json.JsonSerializer.Serialize(signal, ContractsJsonContext.Default.Signal);

    private sealed class SignalBinder : IInvocationBinder
    {
        public IReadOnlyList<Type> GetParameterTypes(string methodName) => [typeof(Signal)];

        public Type GetReturnType(string invocationId) => typeof(object);

        public Type GetStreamItemType(string streamId) => typeof(object);
    }

    private sealed class CountingMessage : OutboundMessage
    {
        private readonly int[] _writes = new int[2];

        public int Writes(WireProtocol protocol) => Volatile.Read(ref _writes[(int)protocol]);

        protected override OutboundFrame Write(WireProtocol protocol)
        {
            Interlocked.Increment(ref _writes[(int)protocol]);
            Thread.Sleep(1); // widen the window in which another thread could start the same write
            return protocol == WireProtocol.MessagePack ? MessagePackFrames.Close("x", true) : JsonFrames.Close("x", true);
        }
    }
}
