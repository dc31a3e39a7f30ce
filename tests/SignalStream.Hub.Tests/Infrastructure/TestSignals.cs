using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Builds valid signals, outcomes and candles with contiguous seq per symbol.</summary>
internal static class TestSignals
{
    public const long BaseTime = 1_700_000_000_000;

    public static Signal Make(string symbol, long seq, Timeframe timeframe = Timeframe.OneMinute, double confidence = 80) => new()
    {
        Id = $"{symbol}-{timeframe.ToName()}-{seq}",
        Seq = seq,
        Symbol = symbol,
        Timeframe = timeframe,
        Direction = seq % 2 == 0 ? SignalDirection.Long : SignalDirection.Short,
        Confidence = confidence,
        Probabilities = new ClassProbabilities(0.1, 0.1, 0.8),
        Entry = 100m + seq,
        Target = 110m + seq,
        Stop = 95m + seq,
        RiskReward = 2,
        FusionScore = 70,
        Models = [new ModelVote("lstm-direction", "1", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.1, 0.8))],
        Rationale = ["test"],
        CandleOpenTime = BaseTime + seq * 60_000,
        CandleCloseTime = BaseTime + seq * 60_000 + 59_999,
        CreatedAt = BaseTime + seq * 60_000 + 60_000,
        ExpiresAt = BaseTime + seq * 60_000 + 3_600_000,
        ExchangeTime = BaseTime + seq * 60_000 + 60_000,
        ReceivedAt = BaseTime + seq * 60_000 + 60_001,
    };

    public static SignalOutcome OutcomeOf(Signal signal) => new()
    {
        SignalId = signal.Id,
        SignalSeq = signal.Seq,
        Symbol = signal.Symbol,
        Timeframe = signal.Timeframe,
        Direction = signal.Direction,
        Outcome = OutcomeKind.Win,
        Entry = signal.Entry,
        ExitPrice = signal.Target,
        RMultiple = 2,
        ResolvedCandleOpenTime = signal.CandleOpenTime + 60_000,
        ResolvedAt = signal.CreatedAt + 60_000,
        Reason = "target first",
        Models = signal.Models,
    };

    public static CandleUpdate Candle(string symbol, Timeframe timeframe, long index, bool closed = true) => new(
        "simulated",
        new Candle(symbol, timeframe, BaseTime + index * 60_000, BaseTime + index * 60_000 + 59_999,
            100m, 101m, 99m, 100.5m, 10m, 1000m, 5, 5m, 500m),
        closed,
        BaseTime + index * 60_000 + 60_000,
        BaseTime + index * 60_000 + 60_001,
        CandleOrigin.Simulated);
}
