using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;

namespace SignalStream.Benchmarks.Hub;

/// <summary>
/// The server's CPU per message for serializing and framing it once, in each hub protocol: what a fan-out pays before the
/// first delivery of a message (each later delivery of it in the same protocol shares the frame). A typical signal (two
/// model votes, two rationale lines) and a candle update.
/// </summary>
/// <remarks>The frame sizes (bytes per delivery on the wire, WebSocket header included) are printed at setup, and in
/// BENCHMARKS.md, "JSON vs MessagePack".</remarks>
[MemoryDiagnoser]
public class HubFramesBenchmarks
{
    private Signal _signal = null!;
    private CandleMessage _candle = null!;
    private WireProtocol _protocol;

    [Params("signal", "candle")]
    public string Message { get; set; } = "signal";

    [Params("json", "messagepack")]
    public string Protocol { get; set; } = "json";

    [GlobalSetup]
    public void Setup()
    {
        _signal = TypicalSignal();
        _candle = TypicalCandle();
        _protocol = Protocol == "messagepack" ? WireProtocol.MessagePack : WireProtocol.Json;
        var frame = Frame();
        Console.WriteLine($"// frame bytes: {Message} {Protocol}: {frame.WebSocketFrame.Length} (record {frame.Record.Length})");
    }

    [Benchmark]
    public ReadOnlyMemory<byte> SerializeAndFrame() => Frame().WebSocketFrame;

    private OutboundFrame Frame() => Message == "signal"
        ? HubFrames.Invocation(HubNames.SignalEvent, _signal, ContractsJsonContext.Default.Signal).FrameFor(_protocol)
        : HubFrames.Invocation(HubNames.CandleEvent, _candle, ContractsJsonContext.Default.CandleMessage).FrameFor(_protocol);

    /// <summary>A signal as the engine publishes one: prices with Binance's precision, two models, two sentences.</summary>
    public static Signal TypicalSignal() => new()
    {
        Id = "BTCUSDT-1h-1733497200000",
        Seq = 18_432,
        Symbol = "BTCUSDT",
        Timeframe = Timeframe.OneHour,
        Direction = SignalDirection.Long,
        Confidence = 71.83,
        Probabilities = new ClassProbabilities(0.1204, 0.1613, 0.7183),
        Entry = 97_312.45m,
        Target = 98_954.17m,
        Stop = 96_488.02m,
        RiskReward = 1.99,
        FusionScore = 68.4,
        Models =
        [
            new ModelVote("lstm-direction", "1.3.0", "lstm", "long", 0.6, new ClassProbabilities(0.1105, 0.1512, 0.7383)),
            new ModelVote("patchtst-direction", "1.1.0", "patchtst", "long", 0.4, new ClassProbabilities(0.1353, 0.1764, 0.6883)),
        ],
        Rationale = ["LSTM and PatchTST agree long on 1h", "ATR 0.85% of price; reward/risk 1.99"],
        CandleOpenTime = 1_733_497_200_000,
        CandleCloseTime = 1_733_500_799_999,
        CreatedAt = 1_733_500_800_012,
        ExpiresAt = 1_733_515_200_012,
        ExchangeTime = 1_733_500_800_003,
        ReceivedAt = 1_733_500_800_005,
        PublishedAt = 1_733_500_800_014,
    };

    public static CandleMessage TypicalCandle() => new(
        "BTCUSDT", Timeframe.OneMinute, 1_733_500_740_000, 1_733_500_799_999,
        97_301.12m, 97_340.00m, 97_288.51m, 97_312.45m, 12.84311000m, IsClosed: true);
}
