using System.Text.Json;
using global::JasperFx.Events;
using global::JasperFx.Events.Daemon;
using global::JasperFx.Events.Projections;
using global::Marten;
using global::Marten.Events.Projections;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Events;
using SignalStream.Engine.Journal;
using SignalStream.EventStore.Marten.Internal;

namespace SignalStream.EventStore.Marten;

/// <summary>
/// The performance statistics as a Marten async projection: Marten's daemon hands it the committed signals, shadow
/// signals and outcomes in global order, a page at a time; it applies them to a <see cref="SignalJournal"/> rebuilt from
/// the <see cref="PerformanceDocument"/> and stores the document back, in the transaction that also records the daemon's
/// progress. So a restart resumes where the last committed page ended (nothing counted twice, nothing missed), and
/// the figures are the in-memory journal's for the same events in the same order, by construction.
/// </summary>
/// <remarks>
/// Replay namespaces (<c>replay-1/outcomes-…</c>) are left out, as the live node's journal leaves them out. Events at or
/// below the document's position are skipped, so a page the daemon hands over twice is applied once.
/// </remarks>
internal sealed partial class PerformanceProjection : ProjectionBase, IProjection
{
    /// <summary>The projection's name (its progress row in <c>mt_event_progression</c> is <c>performance:All</c>).</summary>
    public const string ProjectionName = "performance";

    /// <summary>The event types the projection reads (and the daemon fetches): the journal's inputs.</summary>
    internal static readonly string[] EventTypes =
        [EventSerializer.SignalIssuedType, EventSerializer.ShadowSignalIssuedType, EventSerializer.SignalResolvedType];

    private const int PageSize = 5_000;

    private readonly ILogger _logger;

    // The journal after the last page applied here and that page's end: reused when the stored document stands there
    // (the page committed and no other node's daemon moved it since), so a page of a few events does not deserialize
    // the whole document (~300 KB for 180 rows) first. The daemon applies one page of a shard at a time.
    private Applied? _last;

    private PerformanceProjection(ILogger logger)
    {
        _logger = logger;
        Name = ProjectionName;
        IncludeType<JournalEventBody>();
    }

    /// <summary>
    /// Adds the projection to a Marten store as an async projection, with its document and the mapping of the journal's
    /// event types to <see cref="JournalEventBody"/> (which is what limits the daemon's reads to those types).
    /// </summary>
    public static void Register(StoreOptions options, ILogger logger)
    {
        options.Events.AddEventType<JournalEventBody>();
        foreach (var type in EventTypes)
        {
            // No transformation: Marten reads the JSON as JournalEventBody (the type name maps to it; nothing changes).
            options.Events.Upcast(typeof(JournalEventBody), type, jsonTransformation: null!);
        }

        // The position also as a column of its own: telling whether the document moved reads it, not the whole jsonb.
        options.Schema.For<PerformanceDocument>().DocumentAlias("performance").Duplicate(d => d.Position);

        // Pages of up to 5,000 journal events (Marten's default is 500): each page writes the whole document once, so a
        // catch-up over a long history writes it a tenth as often (docs/events.md has the figures).
        options.Projections.Add(new PerformanceProjection(logger), ProjectionLifecycle.Async, asyncConfiguration: o => o.BatchSize = PageSize);

        // One daemon across all the nodes on this store: each node offers to run it, one holds the leadership lock.
        // A session lock, not a transaction one: no transaction stays open on the leader's connection.
        options.Projections.AsyncMode = DaemonMode.HotCold;
        options.Events.UseAdvisoryLockTransaction = false;
    }

    public async Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        var stored = await StoredPositionAsync(operations, cancellation).ConfigureAwait(false);
        Applied start;
        if (_last is { } last && last.Position == stored)
        {
            start = last;
        }
        else
        {
            var document = await operations.LoadAsync<PerformanceDocument>(PerformanceDocument.TheId, cancellation).ConfigureAwait(false)
                ?? new PerformanceDocument();
            start = new Applied(SignalJournal.FromSnapshot(document.Journal, TimeProvider.System), document.Position, document.Unreadable);
        }

        // The cache is dropped first: if applying or the commit fails, the next page reloads what was stored.
        _last = null;
        var journal = start.Journal;
        var position = start.Position;
        var unreadable = start.Unreadable;
        foreach (var e in events)
        {
            if (e.Sequence <= position)
            {
                continue;
            }

            position = e.Sequence;
            if (e.Data is not JournalEventBody body || e.StreamKey is not { } stream || stream.Contains('/', StringComparison.Ordinal))
            {
                continue;
            }

            var read = new StoredEvent(e.Sequence, stream, e.Version, e.Id, e.EventTypeName, SchemaVersion(e), body.Json, e.Timestamp);
            if (!EventSerializer.TryDeserialize(read, out var @event, out var error))
            {
                unreadable++;
                Log.Unreadable(_logger, e.Sequence, error);
                continue;
            }

            switch (@event)
            {
                case SignalIssued { Signal: var signal }:
                    journal.Track(signal, isShadow: false);
                    break;
                case ShadowSignalIssued { Signal: var signal }:
                    journal.Track(signal, isShadow: true);
                    break;
                case SignalResolved { Outcome: var outcome }:
                    journal.Apply(outcome);
                    break;
            }
        }

        if (position != start.Position)
        {
            operations.Store(new PerformanceDocument { Position = position, Unreadable = unreadable, Journal = journal.ToSnapshot() });
        }

        _last = new Applied(journal, position, unreadable);
    }

    /// <summary>The stored document's position (one jsonb field, not the document), or 0 when there is none yet.</summary>
    internal static async Task<long> StoredPositionAsync(IQuerySession session, CancellationToken cancellationToken)
    {
        var positions = await session.Query<PerformanceDocument>()
            .Where(d => d.Id == PerformanceDocument.TheId)
            .Select(d => d.Position)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        return positions.Count == 0 ? 0 : positions[0];
    }

    /// <summary>
    /// The <c>schema_version</c> header as the store wrote it (1 when absent, as the store's own reads assume); 0, which
    /// no event type has, for a header that is not a whole number, so the event is counted unreadable instead of failing
    /// the page (a page that throws would stop the projection).
    /// </summary>
    private static int SchemaVersion(IEvent e)
    {
        if (e.Headers is null || !e.Headers.TryGetValue(MartenEventStore.SchemaVersionHeader, out var value))
        {
            return 1;
        }

        return value switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } json when json.TryGetInt32(out var v) => v,
            int v => v,
            long v and >= int.MinValue and <= int.MaxValue => (int)v,
            _ => 0,
        };
    }

    private sealed record Applied(SignalJournal Journal, long Position, long Unreadable);

    private static partial class Log
    {
        [LoggerMessage(4260, LogLevel.Error, "Performance projection skipped unreadable event at position {Position}: {Reason}")]
        public static partial void Unreadable(ILogger logger, long position, string reason);
    }
}
