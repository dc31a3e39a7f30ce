namespace SignalStream.EventStore;

/// <summary>
/// An append-only event store: streams of events with per-stream versions and one global order (the position).
/// Implemented by the PostgreSQL store and the embedded file journal; both pass the same contract test suite.
/// </summary>
public interface IEventStore
{
    /// <summary>Opens the store: creates or migrates its schema, or recovers the journal. Idempotent; safe from concurrent starters.</summary>
    ValueTask InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends a group of events to one or more streams atomically: all of it is committed (durably) or none.
    /// Events whose <see cref="EventData.EventId"/> is already stored are skipped, so a group re-sent after an ambiguous
    /// failure is not written twice (the file journal checks the ids of its newest
    /// <see cref="FileJournalOptions.DeduplicationWindowEvents"/> events, PostgreSQL every id). A stream whose version
    /// differs from its <see cref="StreamAppend.ExpectedVersion"/> fails the whole group with
    /// <see cref="AppendStatus.WrongExpectedVersion"/>.
    /// </summary>
    /// <remarks>Infrastructure failures (connection lost, disk error) throw; the caller retries with the same event ids.</remarks>
    ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default);

    /// <summary>Events of a stream with version in [<paramref name="fromVersion"/>, …], oldest first, at most <paramref name="maxCount"/>.</summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default);

    /// <summary>The newest events of a stream (newest first), at most <paramref name="maxCount"/>.</summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default);

    /// <summary>The stream's current version (its number of events), or 0 when it does not exist.</summary>
    ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The position of the newest committed event (0 when the store is empty). Events of transactions still in flight
    /// may later appear below it (PostgreSQL); a global reader that reaches it has seen everything committed before.
    /// </summary>
    ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A reader of all events in global position order that only moves past a position once no open transaction can
    /// still commit an event before it (the high-water mark). Each projection owns one reader.
    /// </summary>
    /// <param name="afterPosition">Start after this position (0: from the beginning).</param>
    /// <param name="dataOf">
    /// When set, only events of these types carry their <see cref="StoredEvent.Data"/>; every other event still comes
    /// in order with its position, stream, version, id, type and timestamp, and empty data. A projector that only looks
    /// at signals saves the store rendering (and the wire carrying) every candle's JSON. Null: data of every event.
    /// </param>
    IGlobalEventReader OpenGlobalReader(long afterPosition, IReadOnlyCollection<string>? dataOf = null);

    /// <summary>Tells the store that every consumer has processed events up to <paramref name="position"/>: retention may drop them.</summary>
    void ReleaseUpTo(long position);
}

/// <summary>Reads all events in global order, never skipping an event of a slow but live transaction.</summary>
public interface IGlobalEventReader : IAsyncDisposable
{
    /// <summary>The position of the last event returned (or the starting position).</summary>
    long Position { get; }

    /// <summary>
    /// The next events after <see cref="Position"/> that are safe to process, oldest first; empty when nothing new is
    /// safe yet (poll again later).
    /// </summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadNextAsync(int maxCount, CancellationToken cancellationToken = default);
}

/// <summary>An event to append, already serialized (serialize once; the store writes the bytes as they are).</summary>
/// <param name="EventId">Unique id; a re-append of the same id is skipped (idempotency).</param>
/// <param name="Type">The event type name, for example <c>signal_issued</c>.</param>
/// <param name="SchemaVersion">The schema version of <paramref name="Data"/>.</param>
/// <param name="Data">UTF-8 JSON.</param>
/// <param name="CreatedAt">When the event was created (for the persistence-lag metric and the stored timestamp).</param>
public sealed record EventData(Guid EventId, string Type, int SchemaVersion, ReadOnlyMemory<byte> Data, DateTimeOffset CreatedAt);

/// <summary>Events for one stream within a group append.</summary>
/// <param name="StreamId">The stream, for example <c>signals-BTCUSDT</c>.</param>
/// <param name="StreamType">The stream's type, recorded when the stream is created.</param>
/// <param name="ExpectedVersion">The version the stream must have before this append, or <see cref="ExpectedVersions.Any"/>.</param>
/// <param name="Events">The events, in order.</param>
public sealed record StreamAppend(string StreamId, string StreamType, long ExpectedVersion, IReadOnlyList<EventData> Events);

/// <summary>Special values of <see cref="StreamAppend.ExpectedVersion"/>.</summary>
public static class ExpectedVersions
{
    /// <summary>No check.</summary>
    public const long Any = -1;

    /// <summary>The stream must not exist yet.</summary>
    public const long NoStream = 0;
}

/// <summary>A stored event.</summary>
/// <param name="Position">Global position (PostgreSQL: <c>seq</c>); increasing, not necessarily contiguous.</param>
/// <param name="StreamId">Its stream.</param>
/// <param name="Version">Its version within the stream, from 1, contiguous.</param>
/// <param name="EventId">Its id.</param>
/// <param name="Type">Event type name.</param>
/// <param name="SchemaVersion">Schema version of <paramref name="Data"/> as stored (readers upcast older ones).</param>
/// <param name="Data">UTF-8 JSON.</param>
/// <param name="Timestamp">When the event was created.</param>
public sealed record StoredEvent(
    long Position,
    string StreamId,
    long Version,
    Guid EventId,
    string Type,
    int SchemaVersion,
    ReadOnlyMemory<byte> Data,
    DateTimeOffset Timestamp);

/// <summary>How an append ended.</summary>
public enum AppendStatus
{
    /// <summary>Committed (possibly with every event already stored before: an idempotent re-append).</summary>
    Committed,

    /// <summary>A stream's version did not match its expected version; nothing was written.</summary>
    WrongExpectedVersion,
}

/// <summary>The result of <see cref="IEventStore.AppendAsync"/>.</summary>
/// <param name="Status">Committed or a concurrency conflict.</param>
/// <param name="Appended">Events newly written (duplicates skipped are not counted).</param>
/// <param name="ConflictStreamId">On a conflict, the stream that did not match.</param>
/// <param name="ConflictActualVersion">On a conflict, that stream's actual version.</param>
public readonly record struct AppendResult(AppendStatus Status, int Appended, string? ConflictStreamId = null, long ConflictActualVersion = 0)
{
    /// <summary>True when committed.</summary>
    public bool IsCommitted => Status == AppendStatus.Committed;
}
