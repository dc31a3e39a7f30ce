using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;

namespace SignalStream.Benchmarks.ReadModel;

/// <summary>
/// A deterministic history of signals and their outcomes in the shapes the engine stores: published ensemble signals
/// (two live models), shadow would-be signals (a shadow model beside the other family's live model) and TradingView
/// alert signals (two sources), over the default symbols and timeframes. Every signal resolves except the newest few
/// of each stream, which stay open as they would at a restart.
/// </summary>
internal static class PerformanceHistory
{
    public static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"];
    public static readonly Timeframe[] Timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    /// <summary>2026-01-01T00:00:00Z: the first candle of a history (a later start gives other signal ids).</summary>
    public const long DefaultStart = 1_767_225_600_000;
    private const int OpenPerStream = 3;

    /// <summary>Groups of <paramref name="groupSignals"/> signals with their outcomes, as one append each, until <paramref name="outcomes"/> outcomes.</summary>
    public static IEnumerable<IReadOnlyList<StreamAppend>> Groups(int outcomes, int groupSignals = 500, int seed = 15, long start = DefaultStart, int openPerStream = OpenPerStream)
    {
        var random = new Random(seed);
        var seq = new Dictionary<string, long>(StringComparer.Ordinal);
        var candle = new Dictionary<(string, Timeframe), long>();
        var total = outcomes + (Symbols.Length * Timeframes.Length * openPerStream);
        var created = DateTimeOffset.FromUnixTimeMilliseconds(start);
        var group = new Dictionary<string, List<EventData>>(StringComparer.Ordinal);
        for (var i = 0; i < total; i++)
        {
            var symbol = Symbols[i % Symbols.Length];
            var timeframe = Timeframes[(i / Symbols.Length) % Timeframes.Length];
            var index = candle[(symbol, timeframe)] = candle.GetValueOrDefault((symbol, timeframe)) + 1;
            var kind = random.Next(10);
            var shadow = kind is >= 6 and <= 8;
            var source = kind == 9 ? SignalSources.TradingView(random.Next(2) == 0 ? "tv-trend" : "tv-breakout") : SignalSources.Ensemble;
            long signalSeq = 0;
            if (!shadow)
            {
                signalSeq = seq[symbol] = seq.GetValueOrDefault(symbol) + 1;
            }

            var signal = NewSignal(random, start, symbol, timeframe, index, signalSeq, shadow, source);
            var at = created.AddMilliseconds(i);
            Add(group, shadow ? EventStreams.ShadowSignals(symbol) : EventStreams.Signals(symbol), EventSerializer.Serialize(
                shadow ? new ShadowSignalIssued(signal) : new SignalIssued(signal), Guid.CreateVersion7(at), at));
            if (i < outcomes)
            {
                Add(group, EventStreams.Outcomes(symbol), EventSerializer.Serialize(new SignalResolved(NewOutcome(random, signal, shadow)), Guid.CreateVersion7(at), at));
            }

            if ((i + 1) % groupSignals == 0 || i == total - 1)
            {
                yield return group.Select(g => new StreamAppend(g.Key, g.Key[..g.Key.IndexOf('-', StringComparison.Ordinal)], ExpectedVersions.Any, g.Value)).ToList();
                group = new Dictionary<string, List<EventData>>(StringComparer.Ordinal);
            }
        }
    }

    private static void Add(Dictionary<string, List<EventData>> group, string stream, EventData data)
    {
        if (!group.TryGetValue(stream, out var list))
        {
            group[stream] = list = [];
        }

        list.Add(data);
    }

    private static Signal NewSignal(Random random, long start, string symbol, Timeframe timeframe, long index, long seq, bool shadow, string source)
    {
        var minutes = timeframe.ToName() switch { "1m" => 1, "5m" => 5, "15m" => 15, _ => 60 };
        var open = start + (index * minutes * 60_000L);
        var up = 0.45 + (random.NextDouble() * 0.5);
        var p = new ClassProbabilities((1 - up) / 2, (1 - up) / 2, up);
        var longSide = random.Next(2) == 0;
        var entry = 60_000m + random.Next(10_000);
        var lstm = new ModelVote("lstm-direction", "1.2.0", "lstm", longSide ? "long" : "short", 0.6, p);
        var patch = new ModelVote("patchtst-direction", "1.1.0", "patchtst", longSide ? "long" : "short", 0.4,
            new ClassProbabilities(p.Down + 0.05, p.Flat, p.Up - 0.05));
        IReadOnlyList<ModelVote> models = source != SignalSources.Ensemble
            ? [new ModelVote(source, "1", SignalSources.TradingViewFamily, longSide ? "long" : "short", 1.0, p)]
            : shadow
                ? [new ModelVote("lstm-direction-next", "2.0.0", "lstm", longSide ? "long" : "short", 0.6, p) { IsShadow = true }, patch]
                : [lstm, patch];
        var id = $"{symbol}-{timeframe.ToName()}-{open}";
        return new Signal
        {
            Id = shadow ? id + "-shadow-lstm-direction-next" : source == SignalSources.Ensemble ? id : id + "-" + source,
            Seq = seq,
            Symbol = symbol,
            Timeframe = timeframe,
            Direction = longSide ? SignalDirection.Long : SignalDirection.Short,
            Confidence = Math.Round(up * 100, 2),
            Probabilities = p,
            Entry = entry,
            Target = longSide ? entry * 1.01m : entry * 0.99m,
            Stop = longSide ? entry * 0.995m : entry * 1.005m,
            RiskReward = 2.0,
            FusionScore = 55 + random.Next(40),
            Models = models,
            Rationale = ["LSTM and PatchTST agree " + (longSide ? "long" : "short") + " on " + timeframe.ToName(), "Fusion 71 across 1m, 5m", "ATR 0.42%"],
            CandleOpenTime = open,
            CandleCloseTime = open + (minutes * 60_000L) - 1,
            CreatedAt = open + (minutes * 60_000L) + 15,
            ExpiresAt = open + (minutes * 60_000L * 25),
            ExchangeTime = open + (minutes * 60_000L),
            ReceivedAt = open + (minutes * 60_000L) + 3,
            Source = source,
        };
    }

    private static SignalOutcome NewOutcome(Random random, Signal signal, bool shadow)
    {
        var roll = random.Next(100);
        var kind = roll < 42 ? OutcomeKind.Win : roll < 85 ? OutcomeKind.Loss : OutcomeKind.Expired;
        var r = kind switch
        {
            OutcomeKind.Win => 1.2 + (random.NextDouble() * 1.8),
            OutcomeKind.Loss => -1.0,
            _ => (random.NextDouble() * 1.6) - 0.8,
        };
        var after = 1 + random.Next(20);
        var step = signal.CandleCloseTime + 1 - signal.CandleOpenTime;
        return new SignalOutcome
        {
            SignalId = signal.Id,
            SignalSeq = signal.Seq,
            Symbol = signal.Symbol,
            Timeframe = signal.Timeframe,
            Direction = signal.Direction,
            Outcome = kind,
            Entry = signal.Entry,
            ExitPrice = kind == OutcomeKind.Win ? signal.Target : kind == OutcomeKind.Loss ? signal.Stop : signal.Entry,
            RMultiple = Math.Round(r, 4),
            ResolvedCandleOpenTime = signal.CandleOpenTime + (after * step),
            ResolvedAt = signal.CandleOpenTime + ((after + 1) * step),
            Reason = kind == OutcomeKind.Win ? "target reached" : kind == OutcomeKind.Loss ? "stop reached" : "expired after 24 candles",
            Models = signal.Models,
            IsShadow = shadow,
            Source = signal.Source,
        };
    }
}
