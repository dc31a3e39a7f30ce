using SignalStream.Engine.Journal.Internal;

namespace SignalStream.Engine.Journal;

public sealed partial class SignalJournal
{
    /// <summary>The journal's whole state, for a store that keeps it durably (<see cref="JournalSnapshot"/>).</summary>
    public JournalSnapshot ToSnapshot()
    {
        lock (_gate)
        {
            var rows = new List<JournalRowState>(_groups.Count);
            foreach (var (key, group) in _groups)
            {
                rows.Add(group.ToState(key));
            }

            var open = new List<OpenSignalState>(_open.Count);
            foreach (var (id, signal) in _open)
            {
                // Keys come four per model, (symbol, timeframe) first: the model names and the stream are read back from them.
                var models = new string[signal.Keys.Length / 4];
                for (var i = 0; i < models.Length; i++)
                {
                    models[i] = signal.Keys[i * 4].Model;
                }

                var first = signal.Keys.Length > 0 ? signal.Keys[0] : default;
                open.Add(new OpenSignalState(id, signal.IsShadow, models, first.Symbol ?? string.Empty, first.Timeframe ?? string.Empty));
            }

            return new JournalSnapshot(rows, open, [.. _resolvedFirst.Ids]);
        }
    }

    /// <summary>A journal holding exactly <paramref name="snapshot"/>'s state.</summary>
    /// <exception cref="InvalidDataException">The snapshot does not describe a journal (a row's calibration is not 10 buckets, a key repeats).</exception>
    public static SignalJournal FromSnapshot(JournalSnapshot snapshot, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var journal = new SignalJournal(time);
        foreach (var row in snapshot.Rows)
        {
            var key = new GroupKey(row.Model, row.IsShadow, row.Symbol, row.Timeframe);
            if (!journal._groups.TryAdd(key, JournalGroup.FromState(row)))
            {
                throw new InvalidDataException($"The journal snapshot holds the row {key} twice.");
            }
        }

        foreach (var open in snapshot.Open)
        {
            var keys = new GroupKey[open.Models.Count * 4];
            for (var i = 0; i < open.Models.Count; i++)
            {
                keys[(i * 4) + 0] = new GroupKey(open.Models[i], open.IsShadow, open.Symbol, open.Timeframe);
                keys[(i * 4) + 1] = new GroupKey(open.Models[i], open.IsShadow, open.Symbol, All);
                keys[(i * 4) + 2] = new GroupKey(open.Models[i], open.IsShadow, All, open.Timeframe);
                keys[(i * 4) + 3] = new GroupKey(open.Models[i], open.IsShadow, All, All);
            }

            if (!journal._open.TryAdd(open.SignalId, new OpenSignal(keys, open.IsShadow)))
            {
                throw new InvalidDataException($"The journal snapshot holds the open signal '{open.SignalId}' twice.");
            }

            if (!open.IsShadow)
            {
                journal._openLive++;
            }
        }

        foreach (var id in snapshot.ResolvedBeforeTracked)
        {
            journal._resolvedFirst.Add(id);
        }

        return journal;
    }

    /// <summary>A tracked signal's rows, and whether it is a shadow one (which the open count of published signals leaves out).</summary>
    private readonly record struct OpenSignal(GroupKey[] Keys, bool IsShadow);
}
