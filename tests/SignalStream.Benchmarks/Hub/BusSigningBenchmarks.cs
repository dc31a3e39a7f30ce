using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.FanOut.Redis;

namespace SignalStream.Benchmarks.Hub;

/// <summary>
/// What <c>Redis:BusKey</c> costs per bus message: the publisher's serialize (+ sign) and a hub node's verify (+ parse)
/// of one signal, as <c>RedisSignalBus</c> does them.
/// </summary>
[MemoryDiagnoser]
public class BusSigningBenchmarks
{
    private readonly BusSigner _unsigned = new(null, null);
    private readonly BusSigner _signed = new("bus-key-4b1d0c3f-9e8a-4f5e-b6a1-2c7d9e0f1a2b", null);
    private BusMessage _message = null!;
    private ReadOnlyMemory<byte> _plain;
    private ReadOnlyMemory<byte> _signedBytes;

    [GlobalSetup]
    public void Setup()
    {
        var signal = new Signal
        {
            Id = "BTCUSDT-1m-42", Seq = 42, Symbol = "BTCUSDT", Timeframe = Timeframe.OneMinute, Direction = SignalDirection.Long,
            Confidence = 81.5, Probabilities = new ClassProbabilities(0.1, 0.1, 0.8), Entry = 97_123.45m, Target = 97_900.10m,
            Stop = 96_800.00m, RiskReward = 2.4, FusionScore = 72,
            Models = [new ModelVote("lstm-direction", "1", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.1, 0.8)),
                      new ModelVote("patchtst-direction", "1", "patchtst", "long", 0.4, new ClassProbabilities(0.15, 0.1, 0.75))],
            Rationale = ["lstm and patchtst agree: long", "fusion 72"],
            CandleOpenTime = 1_700_000_000_000, CandleCloseTime = 1_700_000_059_999, CreatedAt = 1_700_000_060_010,
            ExpiresAt = 1_700_003_660_000, ExchangeTime = 1_700_000_060_000, ReceivedAt = 1_700_000_060_001,
        };
        _message = BusMessage.For(signal);
        _plain = BusEnvelope.Serialize(_message);
        _signedBytes = _signed.Sign(BusEnvelope.Serialize(_message));
    }

    [Benchmark(Baseline = true)]
    public byte[] PublishUnsigned() => _unsigned.Sign(BusEnvelope.Serialize(_message));

    [Benchmark]
    public byte[] PublishSigned() => _signed.Sign(BusEnvelope.Serialize(_message));

    [Benchmark]
    public object? ReceiveUnsigned() =>
        _unsigned.TryOpen(_plain, out var json, out _) ? BusEnvelope.TryParse(json.Span, "BTCUSDT", out _) : null;

    [Benchmark]
    public object? ReceiveSigned() =>
        _signed.TryOpen(_signedBytes, out var json, out _) ? BusEnvelope.TryParse(json.Span, "BTCUSDT", out _) : null;
}
