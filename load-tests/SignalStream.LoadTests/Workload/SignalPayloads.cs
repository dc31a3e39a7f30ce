using System.Text;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.LoadTests.Workload;

/// <summary>
/// Builds the bus envelope SignalStream hub nodes read from Redis, <c>{"kind":"signal","signal":{…}}</c> (docs/hub.md),
/// with a realistic signal (two model votes, rationale; ~0.8 KB). The Socket.IO peer reads the same bytes.
/// </summary>
internal static class SignalPayloads
{
    private static readonly byte[] Prefix = "{\"kind\":\"signal\",\"signal\":"u8.ToArray();

    public static byte[] Envelope(string symbol, long seq, long exchangeTimeMs)
    {
        var probabilities = new ClassProbabilities(0.12, 0.18, 0.70);
        var signal = new Signal
        {
            Id = $"{symbol}-1m-{seq}",
            Seq = seq,
            Symbol = symbol,
            Timeframe = Timeframe.OneMinute,
            Direction = SignalDirection.Long,
            Confidence = 70,
            Probabilities = probabilities,
            Entry = 64_250.5m,
            Target = 64_890.25m,
            Stop = 63_980.75m,
            RiskReward = 2.37,
            FusionScore = 71.5,
            Models =
            [
                new ModelVote("lstm-direction", "1.0.0", "lstm", "up", 0.6, probabilities),
                new ModelVote("patchtst-direction", "1.0.0", "patchtst", "up", 0.4, new ClassProbabilities(0.15, 0.2, 0.65)),
            ],
            Rationale = ["ensemble long 0.70 vs short 0.12", "lstm and patchtst agree", "atr 0.42%"],
            CandleOpenTime = exchangeTimeMs - 60_000,
            CandleCloseTime = exchangeTimeMs - 1,
            CreatedAt = exchangeTimeMs,
            ExpiresAt = exchangeTimeMs + 3_600_000,
            ExchangeTime = exchangeTimeMs,
            ReceivedAt = exchangeTimeMs,
            PublishedAt = exchangeTimeMs,
        };

        var body = JsonSerializer.SerializeToUtf8Bytes(signal, ContractsJsonContext.Default.Signal);
        var envelope = new byte[Prefix.Length + body.Length + 1];
        Prefix.CopyTo(envelope, 0);
        body.CopyTo(envelope, Prefix.Length);
        envelope[^1] = (byte)'}';
        return envelope;
    }

    public static string Describe(byte[] envelope) => Encoding.UTF8.GetString(envelope);
}
