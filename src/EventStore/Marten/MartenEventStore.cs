using global::JasperFx;
using global::JasperFx.Events;
using global::Marten;
using Microsoft.Extensions.Logging;
using Npgsql;
using SignalStream.EventStore.Marten.Internal;

using SignalStream.EventStore.Postgres;

namespace SignalStream.EventStore.Marten;

/// <summary>
/// The event store on Marten (<c>Storage:Provider=marten</c>): Marten's <c>mt_events</c> / <c>mt_streams</c> tables in
/// their own schema, appends through Marten sessions, reads by SQL over Marten's tables (range, backward and
/// type-filtered reads Marten's API does not offer without deserializing every event).
/// </summary>
/// <remarks>
/// Mapping: a stream is a Marten string-keyed stream; our event type is Marten's event type name (<c>type</c>), our
/// JSON is <c>data</c> as written, our creation time is <c>timestamp</c>, the schema version is the
/// <c>schema_version</c> header. Exactly once: Marten's unique event-id index is on, and a group that hits it (or a
/// version conflict) is retried on the checked path: one transaction that finds the ids already stored, locks the
/// streams, checks expected versions, and appends only the rest (see docs/events.md, "Marten").
/// </remarks>
internal sealed partial class MartenEventStore : SqlEventStore, IEventStore, IAsyncDisposable
{
    internal const string SchemaVersionHeader = "schema_version";

    private readonly NpgsqlDataSource _dataSource;
    private readonly DocumentStore _documents;
    private readonly string _schema;
    private readonly ILogger _logger;
    private readonly Sql _sql;
    private readonly bool _ownsDataSource;

    /// <param name="ownsDataSource">True when this store disposes <paramref name="dataSource"/> (the DI registration); tests share one.</param>
    /// <param name="configure">More Marten configuration (its projections), applied after the store's own.</param>
    public MartenEventStore(
        NpgsqlDataSource dataSource, MartenStoreOptions options, ILogger<MartenEventStore> logger, bool ownsDataSource = false, Action<StoreOptions>? configure = null)
        : base(dataSource, "Marten", ReadStatements(ValidSchema(options.Schema, "Storage:Marten:Schema", nameof(options))))
    {
        _dataSource = dataSource;
        _schema = options.Schema;
        _logger = logger;
        _sql = new Sql(_schema);
        _ownsDataSource = ownsDataSource;
        var marten = Configure(dataSource, _schema);
        configure?.Invoke(marten);
        _documents = new DocumentStore(marten);
    }

    /// <summary>Marten itself, for tests and for read models that want its documents and projections.</summary>
    internal DocumentStore Documents => _documents;

    public string Schema => _schema;

    private static StoreOptions Configure(NpgsqlDataSource dataSource, string schema)
    {
        var options = new StoreOptions();
        options.Connection(dataSource);
        options.DatabaseSchemaName = schema;
        options.Events.DatabaseSchemaName = schema;
        options.Events.StreamIdentity = StreamIdentity.AsString;

        // Without the index a re-appended id is stored twice; with it the whole SaveChanges fails, and AppendAsync
        // takes the checked path.
        options.Events.EnableUniqueIndexOnEventId = true;

        // An expected version locks the streams row (FOR UPDATE) before the check, so check and append agree.
        options.Events.UseExclusiveLockOnConcurrentAppends = true;

        // Marten 9's default: the quick append function, with the timestamps the client sends (our CreatedAt).
        options.Events.AppendMode = EventAppendMode.QuickWithServerTimestamps;
        options.Events.MetadataConfig.HeadersEnabled = true;
        options.Events.AddEventType<RawEventBody>();
        options.UseSystemTextJsonForSerialization();
        options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        return options;
    }

    public async ValueTask InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (IsInitialized)
        {
            return;
        }

        // Concurrent starters serialize on an advisory lock; Marten's migration is a diff against what exists, so the
        // second starter finds nothing to do.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(hashtext($1))", connection))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter { Value = "signalstream.marten.schema." + _schema });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await _documents.Storage.ApplyAllConfiguredChangesToDatabaseAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtext($1))", connection);
            unlock.Parameters.Add(new NpgsqlParameter { Value = "signalstream.marten.schema." + _schema });
            await unlock.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }

        Log.SchemaApplied(_logger, _schema);
        MarkInitialized();
    }

    public void ReleaseUpTo(long position)
    {
        // As the Npgsql provider: PostgreSQL keeps every event; retention is a DBA's decision (or Marten's archiving).
        _ = position;
    }

    public async ValueTask DisposeAsync()
    {
        _documents.Dispose();
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
