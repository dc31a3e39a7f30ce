using SignalStream.Engine.Journal;

namespace SignalStream.EventStore.Marten;

/// <summary>
/// The Marten document the performance projection keeps (table <c>mt_doc_performance</c>): the journal's whole state
/// after every signal and outcome up to <see cref="Position"/> in the store's global order, committed in the same
/// transaction as the daemon's progress.
/// </summary>
public sealed class PerformanceDocument
{
    /// <summary>The one document's id.</summary>
    public const string TheId = "performance";

    public string Id { get; set; } = TheId;

    /// <summary>The <c>seq_id</c> of the last event applied; events at or below it are never applied again.</summary>
    public long Position { get; set; }

    /// <summary>Journal events that could not be read (unknown version, bad JSON), skipped and logged.</summary>
    public long Unreadable { get; set; }

    public JournalSnapshot Journal { get; set; } = JournalSnapshot.Empty;
}
