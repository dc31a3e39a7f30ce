using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace SignalStream.EventStore.Postgres;

/// <summary>
/// What both PostgreSQL providers share, ours (<see cref="PostgresEventStore"/>) and the one on Marten's tables: the
/// initialized check, the per-stream reads and the global reader, each over the statements the provider gives. Schema
/// set-up, appends and disposal are each provider's own.
/// </summary>
internal abstract partial class SqlEventStore(NpgsqlDataSource dataSource, string providerName, SqlEventStore.Statements statements)
{
    private volatile bool _initialized;

    protected bool IsInitialized => _initialized;

    /// <summary>True for a plain PostgreSQL identifier (the schema is written into the statements as is).</summary>
    public static bool IsValidSchemaName(string? name) => name is not null && SchemaName().IsMatch(name);

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        if (maxCount <= 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand(statements.ReadStream);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromVersion });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await HighWaterMarkReader.ReadEventsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        if (maxCount <= 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand(statements.ReadStreamBackward);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await HighWaterMarkReader.ReadEventsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        await using var command = dataSource.CreateCommand(statements.LastPosition);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        await using var command = dataSource.CreateCommand(statements.StreamVersion);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        // No row: the stream does not exist yet. Converted rather than cast: the column's type is the provider's choice.
        return result is null or DBNull ? 0 : Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }

    public IGlobalEventReader OpenGlobalReader(long afterPosition, IReadOnlyCollection<string>? dataOf = null) =>
        new HighWaterMarkReader(dataSource, EnsureInitialized, statements.ReadAll, afterPosition, dataOf?.ToArray());

    /// <summary>Called at the end of the provider's InitializeAsync: reads and appends are allowed from then on.</summary>
    protected void MarkInitialized() => _initialized = true;

    protected void EnsureInitialized()
    {
        if (!_initialized)
        {
            throw new InvalidOperationException($"The {providerName} event store is not initialized: call InitializeAsync first.");
        }
    }

    /// <summary>Returns <paramref name="schema"/>, or throws naming <paramref name="key"/> when it is not a plain identifier.</summary>
    protected static string ValidSchema(string schema, string key, string paramName) =>
        IsValidSchemaName(schema)
            ? schema
            : throw new ArgumentException(
                $"{key} '{schema}' is not a plain PostgreSQL identifier: use lower-case letters, digits and '_' (at most 63, not starting with a digit).",
                paramName);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();

    /// <summary>The provider's statements over its own tables; rows in <see cref="HighWaterMarkReader.ReadEventsAsync"/>'s column order.</summary>
    /// <param name="ReadStream">Stream <c>$1</c> from version <c>$2</c> up, at most <c>$3</c> events.</param>
    /// <param name="ReadStreamBackward">Stream <c>$1</c> newest first, at most <c>$2</c> events.</param>
    /// <param name="LastPosition">The highest global position stored (0 when empty).</param>
    /// <param name="StreamVersion">The version of stream <c>$1</c> (no row: the stream does not exist).</param>
    /// <param name="ReadAll">The global reader's statement (<see cref="HighWaterMarkReader"/>).</param>
    internal sealed record Statements(string ReadStream, string ReadStreamBackward, string LastPosition, string StreamVersion, string ReadAll);
}
