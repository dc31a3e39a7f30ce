namespace SignalStream.EventStore;

/// <summary>Which event store to use and how it behaves (configuration section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Storage";

    /// <summary><c>file</c> (embedded journal, default), <c>postgres</c> (Npgsql COPY) or <c>marten</c> (Marten's event store).</summary>
    public string Provider { get; set; } = "file";

    /// <summary>The file journal.</summary>
    public FileJournalOptions File { get; set; } = new();

    /// <summary>The PostgreSQL store (the connection string is <c>ConnectionStrings:Postgres</c>).</summary>
    public PostgresStoreOptions Postgres { get; set; } = new();

    /// <summary>The Marten store (the connection string is <c>ConnectionStrings:Postgres</c>).</summary>
    public MartenStoreOptions Marten { get; set; } = new();

    /// <summary>The event writer.</summary>
    public EventWriterOptions Writer { get; set; } = new();
}

/// <summary>The embedded journal (<c>Storage:File</c>).</summary>
public sealed class FileJournalOptions
{
    /// <summary>Folder of the segment files.</summary>
    public string Path { get; set; } = "./data";

    /// <summary>A segment is closed and a new one started once it reaches this size.</summary>
    public long SegmentSizeBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Keep at most this many segments (0: no limit). Never deletes events a projection has not consumed.</summary>
    public int RetentionMaxSegments { get; set; }

    /// <summary>Delete closed segments whose newest event is older than this (unset: no limit).</summary>
    public TimeSpan? RetentionMaxAge { get; set; }

    /// <summary>
    /// An append skips an event whose id is among the ids of this many newest retained events (PostgreSQL checks every
    /// id ever stored). Kept in memory, ~24 bytes each once full: the default is ~6 MB. At least
    /// <c>Storage:Writer:MaxBatchSize</c>, so a group re-sent after a lost acknowledgement is still covered whole
    /// (docs/events.md, "Event-id de-duplication").
    /// </summary>
    public int DeduplicationWindowEvents { get; set; } = DefaultDeduplicationWindowEvents;

    /// <summary>
    /// Scan and check every segment before the open returns, as the journal did before sealed segments had sidecar
    /// indexes. Off (the default): sealed segments are indexed from their sidecars and their checksums verified in the
    /// background after the open (docs/events.md, "Verification of sealed segments").
    /// </summary>
    public bool VerifyOnOpen { get; set; }

    /// <summary>The default of <see cref="DeduplicationWindowEvents"/>.</summary>
    public const int DefaultDeduplicationWindowEvents = 262_144;
}

/// <summary>The PostgreSQL store (<c>Storage:Postgres</c>).</summary>
public sealed class PostgresStoreOptions
{
    /// <summary>The schema that holds the <c>events</c> and <c>streams</c> tables; created when missing.</summary>
    public string Schema { get; set; } = "signalstream";

    /// <summary>Filled from <c>ConnectionStrings:Postgres</c> when not set here.</summary>
    public string? ConnectionString { get; set; }
}

/// <summary>The Marten store (<c>Storage:Marten</c>).</summary>
public sealed class MartenStoreOptions
{
    /// <summary>The schema of Marten's <c>mt_events</c> / <c>mt_streams</c> tables, apart from the Npgsql provider's; created when missing.</summary>
    public string Schema { get; set; } = "signalstream_marten";

    /// <summary>
    /// Keep the performance statistics as a Marten async projection and serve <c>/api/performance</c> from it, on every
    /// node (docs/events.md, "Performance statistics as a Marten projection").
    /// </summary>
    public bool PerformanceProjection { get; set; } = true;
}

/// <summary>The event writer's group commit and outage buffer (<c>Storage:Writer</c>).</summary>
public sealed class EventWriterOptions
{
    /// <summary>At most this many events in one group commit.</summary>
    public int MaxBatchSize { get; set; } = 8192;

    /// <summary>How long a group waits for more events before it commits (a few ms trades latency for throughput).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Group commits in flight at once, each on its own lane (and PostgreSQL connection). A symbol always uses the same
    /// lane, so its events keep their order; more lanes overlap one group's commit with the next group's COPY.
    /// </summary>
    public int CommitLanes { get; set; } = 4;

    /// <summary>Events buffered while the store is slow or down; when full, the engine waits (never drops).</summary>
    public int BufferCapacity { get; set; } = 200_000;

    /// <summary>
    /// Bytes of serialized events buffered while the store is slow or down; when full, the engine waits (never drops).
    /// Whichever of this and <see cref="BufferCapacity"/> is reached first holds the engine back. An event larger than
    /// the whole bound is still taken, alone.
    /// </summary>
    public long BufferBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>First retry delay after a failed append; doubles up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest retry delay.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long shutdown waits for buffered events to be committed.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
