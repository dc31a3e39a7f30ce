using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.Engine.Journal;

namespace SignalStream.EventStore.Tests.Marten;

/// <summary>
/// Signals and outcomes in every shape the journal scores, appended through the store in group commits as the writer
/// makes them: published ensemble signals (a TradingView vote inside some), shadow would-be signals, TradingView alert
/// signals of two sources, several symbols and timeframes (so every roll-up row has rows under it), a few signals left
/// open, some outcomes in the same group as their signal with the outcomes stream first (so the store's order puts the
/// outcome before its signal), and a replay's namespaced streams that the live journal leaves out.
/// </summary>
internal static class JournalHistory
{
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    private static readonly Timeframe[] Timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes];

    public static List<IReadOnlyList<StreamAppend>> Groups(int signals, int seed, string[]? symbols = null, int firstIndex = 0)
    {
        symbols ??= Symbols;
        var random = new Random(seed);
        var groups = new List<IReadOnlyList<StreamAppend>>();
        var pending = new List<(Signal Signal, bool Shadow)>();
        var group = new Group();
        for (var i = firstIndex; i < firstIndex + signals; i++)
        {
            var symbol = symbols[random.Next(symbols.Length)];
            var timeframe = Timeframes[random.Next(Timeframes.Length)];
            var kind = random.Next(10);
            var shadow = kind is 6 or 7;
            var source = kind == 8 ? SignalSources.TradingView(random.Next(2) == 0 ? "trend" : "breakout") : SignalSources.Ensemble;
            var signal = NewSignal(random, symbol, timeframe, i, shadow, source, alertVote: kind == 5);

            // One in five resolves in the same group, its outcome first; most resolve a group or two later; a few stay open.
            var roll = random.Next(20);
            if (roll < 4)
            {
                group.Add(EventStreams.Outcomes(symbol), new SignalResolved(Outcome(random, signal, shadow)));
            }

            group.Add(shadow ? EventStreams.ShadowSignals(symbol) : EventStreams.Signals(symbol), shadow ? new ShadowSignalIssued(signal) : new SignalIssued(signal));
            if (roll is >= 4 and < 19)
            {
                pending.Add((signal, shadow));
            }

            if (random.Next(6) == 0)
            {
                foreach (var (open, isShadow) in pending)
                {
                    group.Add(EventStreams.Outcomes(open.Symbol), new SignalResolved(Outcome(random, open, isShadow)));
                }

                pending.Clear();
                if (random.Next(3) == 0)
                {
                    // A replay's output in the same store: never in the live journal.
                    var replayed = NewSignal(random, symbol, timeframe, i, shadow: false, SignalSources.Ensemble, alertVote: false);
                    group.Add(EventStreams.Signals(symbol, "replay-1"), new SignalIssued(replayed));
                    group.Add(EventStreams.Outcomes(symbol, "replay-1"), new SignalResolved(Outcome(random, replayed, false)));
                }

                groups.Add(group.ToAppends());
                group = new Group();
            }
        }

        foreach (var (open, isShadow) in pending)
        {
            group.Add(EventStreams.Outcomes(open.Symbol), new SignalResolved(Outcome(random, open, isShadow)));
        }

        if (group.Count > 0)
        {
            groups.Add(group.ToAppends());
        }

        return groups;
    }

    /// <summary>A journal fed the store's journal events of the live streams in global order (what the projection reads).</summary>
    public static async Task<SignalJournal> JournalInStoreOrderAsync(IEventStore store)
    {
        var journal = new SignalJournal(TimeProvider.System);
        await using var reader = store.OpenGlobalReader(0);
        var last = await store.GetLastPositionAsync();
        while (reader.Position < last)
        {
            foreach (var stored in await reader.ReadNextAsync(1000))
            {
                if (stored.StreamId.Contains('/', StringComparison.Ordinal) || !EventSerializer.TryDeserialize(stored, out var @event, out _))
                {
                    continue;
                }

                switch (@event)
                {
                    case SignalIssued issued:
                        journal.Track(issued.Signal, isShadow: false);
                        break;
                    case ShadowSignalIssued shadow:
                        journal.Track(shadow.Signal, isShadow: true);
                        break;
                    case SignalResolved resolved:
                        journal.Apply(resolved.Outcome);
                        break;
                }
            }
        }

        return journal;
    }

    private static Signal NewSignal(Random random, string symbol, Timeframe timeframe, int index, bool shadow, string source, bool alertVote)
    {
        var open = 1_767_225_600_000L + (index * 60_000L);
        var up = Math.Round(0.4 + (random.NextDouble() * 0.55), 6);
        var p = new ClassProbabilities(Math.Round((1 - up) / 2, 6), Math.Round((1 - up) / 2, 6), up);
        var side = random.Next(2) == 0 ? "long" : "short";
        var patch = new ModelVote("patchtst-direction", "1.1.0", "patchtst", side, 0.4, new ClassProbabilities(p.Down, p.Up, p.Flat));
        IReadOnlyList<ModelVote> models = source != SignalSources.Ensemble
            ? [new ModelVote(source, "1", SignalSources.TradingViewFamily, side, 1.0, p)]
            : shadow
                ? [new ModelVote("lstm-direction-next", "2.0.0", "lstm", side, 0.6, p) { IsShadow = true }, patch]
                : alertVote
                    ? [new ModelVote("lstm-direction", "1.2.0", "lstm", side, 0.5, p), patch, new ModelVote("tradingview:trend", "1", SignalSources.TradingViewFamily, side, 0.1, p)]
                    : [new ModelVote("lstm-direction", "1.2.0", "lstm", side, 0.6, p), patch];
        var id = $"{symbol}-{timeframe.ToName()}-{open}";
        return new Signal
        {
            Id = shadow ? id + "-shadow-lstm-direction-next" : source == SignalSources.Ensemble ? id : id + "-" + source,
            Seq = index + 1,
            Symbol = symbol,
            Timeframe = timeframe,
            Direction = side == "long" ? SignalDirection.Long : SignalDirection.Short,
            Confidence = Math.Round(up * 100, 2),
            Probabilities = p,
            Entry = 60_000m + random.Next(10_000),
            Target = 61_000m,
            Stop = 59_500m,
            RiskReward = 2.0,
            FusionScore = 60,
            Models = models,
            Rationale = ["test"],
            CandleOpenTime = open,
            CandleCloseTime = open + 59_999,
            CreatedAt = open + 60_010,
            ExpiresAt = open + 1_500_000,
            ExchangeTime = open + 60_000,
            ReceivedAt = open + 60_002,
            Source = source,
        };
    }

    private static SignalOutcome Outcome(Random random, Signal signal, bool shadow)
    {
        var roll = random.Next(100);
        var kind = roll < 40 ? OutcomeKind.Win : roll < 85 ? OutcomeKind.Loss : OutcomeKind.Expired;
        var r = kind switch
        {
            OutcomeKind.Win => 1.2 + (random.NextDouble() * 1.8),
            OutcomeKind.Loss => -1.0,
            _ => (random.NextDouble() * 1.6) - 0.8,
        };
        return new SignalOutcome
        {
            SignalId = signal.Id,
            SignalSeq = signal.Seq,
            Symbol = signal.Symbol,
            Timeframe = signal.Timeframe,
            Direction = signal.Direction,
            Outcome = kind,
            Entry = signal.Entry,
            ExitPrice = signal.Target,
            RMultiple = r,
            ResolvedCandleOpenTime = signal.CandleOpenTime + 120_000 + random.Next(10) * 60_000L,
            ResolvedAt = signal.CreatedAt + 120_000,
            Reason = "test",
            Models = signal.Models,
            IsShadow = shadow,
            Source = signal.Source,
        };
    }

    /// <summary>A group commit being built: streams in first-seen order, as the writer groups them.</summary>
    private sealed class Group
    {
        private readonly List<(string Stream, List<EventData> Events)> _streams = [];

        public int Count => _streams.Count;

        public void Add(string stream, ISignalStreamEvent @event)
        {
            var data = EventSerializer.Serialize(@event, Guid.CreateVersion7(), DateTimeOffset.UtcNow);
            foreach (var (id, events) in _streams)
            {
                if (id == stream)
                {
                    events.Add(data);
                    return;
                }
            }

            _streams.Add((stream, [data]));
        }

        public IReadOnlyList<StreamAppend> ToAppends() =>
            [.. _streams.Select(s => new StreamAppend(s.Stream, "test", ExpectedVersions.Any, s.Events))];
    }
}
