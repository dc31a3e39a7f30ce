using SignalStream.Contracts;

namespace SignalStream.Testing;

/// <summary>
/// Valid signals, outcomes and candles for tests: one per (symbol, seq) or (symbol, index), with contiguous times from
/// <see cref="BaseTime"/> so that seq n and candle n line up. Values a test does not care about are fixed; a test that
/// cares sets them with <c>with</c>.
/// </summary>
public static class TestSignals
{
    /// <summary>2023-11-14 22:13:20 UTC: the open time of candle 0.</summary>
    public const long BaseTime = 1_700_000_000_000;

    /// <summary>Signal <paramref name="seq"/> of a symbol: long on even seqs, short on odd; entry 100 + seq.</summary>
    public static Signal Signal(string symbol, long seq, Timeframe timeframe = Timeframe.OneMinute, double confidence = 80) => new()
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

    /// <summary>The signal resolved on the next candle: a win at its target (2 R), a loss at its stop (-1 R), an expired
    /// one at its entry (0 R). <paramref name="outcomeSeq"/> is its position among the symbol's outcomes (0: unnumbered).</summary>
    public static SignalOutcome Outcome(Signal signal, OutcomeKind kind = OutcomeKind.Win, bool shadow = false, long outcomeSeq = 0) => new()
    {
        SignalId = signal.Id,
        OutcomeSeq = outcomeSeq,
        SignalSeq = signal.Seq,
        Symbol = signal.Symbol,
        Timeframe = signal.Timeframe,
        Direction = signal.Direction,
        Outcome = kind,
        Entry = signal.Entry,
        ExitPrice = kind switch { OutcomeKind.Win => signal.Target, OutcomeKind.Loss => signal.Stop, _ => signal.Entry },
        RMultiple = kind switch { OutcomeKind.Win => 2, OutcomeKind.Loss => -1, _ => 0 },
        ResolvedCandleOpenTime = signal.CandleOpenTime + 60_000,
        ResolvedAt = signal.CreatedAt + 60_000,
        Reason = kind switch { OutcomeKind.Win => "target first", OutcomeKind.Loss => "stop first", _ => "expired" },
        Models = signal.Models,
        IsShadow = shadow,
    };

    /// <summary>Candle <paramref name="index"/> of a stream (a minute apart whatever the timeframe), closed unless told.
    /// Its prices do not move: the TypeScript SDK's wire fixture (written by Hub.Tests' HubFramesTests) holds one.</summary>
    public static CandleUpdate Candle(string symbol, Timeframe timeframe, long index, bool closed = true)
    {
        var open = BaseTime + index * 60_000;
        return new CandleUpdate(
            "simulated",
            new Candle(symbol, timeframe, open, open + 59_999, 100m, 101m, 99m, 100.5m, 10m, 1000m, 5, 5m, 500m),
            closed,
            open + 60_000,
            open + 60_001,
            CandleOrigin.Simulated);
    }
}
