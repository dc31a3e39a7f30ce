using SignalStream.Contracts;

namespace SignalStream.EventStore.Tests;

internal static class TestSignals
{
    public static Signal Signal(string symbol, long seq, Timeframe timeframe = Timeframe.OneMinute) => new()
    {
        Id = $"{symbol}-{timeframe.ToName()}-{seq}",
        Seq = seq,
        Symbol = symbol,
        Timeframe = timeframe,
        Direction = seq % 2 == 0 ? SignalDirection.Long : SignalDirection.Short,
        Confidence = 71.5,
        Probabilities = new ClassProbabilities(0.1, 0.2, 0.7),
        Entry = 65000.12345678m,
        Target = 66000m,
        Stop = 64500.5m,
        RiskReward = 2.0,
        FusionScore = 64,
        Models = [new ModelVote("lstm-direction", "1.0.0", "lstm", "long", 1.0, new ClassProbabilities(0.1, 0.2, 0.7))],
        Rationale = ["test"],
        CandleOpenTime = 1_700_000_000_000 + seq * 60_000,
        CandleCloseTime = 1_700_000_059_999 + seq * 60_000,
        CreatedAt = 1_700_000_060_000 + seq * 60_000,
        ExpiresAt = 1_700_003_600_000 + seq * 60_000,
        ExchangeTime = 1_700_000_060_000 + seq * 60_000,
        ReceivedAt = 1_700_000_060_001 + seq * 60_000,
    };

    public static CandleUpdate Closed(string symbol, long index, Timeframe timeframe = Timeframe.OneMinute, bool closed = true)
    {
        var open = 1_700_000_000_000 + index * 60_000;
        return new CandleUpdate(
            "simulated",
            new Candle(symbol, timeframe, open, open + 59_999, 100m + index, 101m + index, 99m + index, 100.5m + index, 12.34567891m, 1234.5m, 42, 6m, 600m),
            closed,
            open + 60_000,
            open + 60_001,
            CandleOrigin.Simulated);
    }

    public static SignalOutcome Outcome(Signal signal, OutcomeKind kind, bool shadow = false) => new()
    {
        SignalId = signal.Id,
        SignalSeq = signal.Seq,
        Symbol = signal.Symbol,
        Timeframe = signal.Timeframe,
        Direction = signal.Direction,
        Outcome = kind,
        Entry = signal.Entry,
        ExitPrice = signal.Target,
        RMultiple = kind == OutcomeKind.Win ? 2 : -1,
        ResolvedCandleOpenTime = signal.CandleOpenTime + 60_000,
        ResolvedAt = signal.CreatedAt + 60_000,
        Reason = "test",
        Models = signal.Models,
        IsShadow = shadow,
    };
}
