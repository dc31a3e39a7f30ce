using global::Marten;
using global::Marten.Services;
using Npgsql;
using NpgsqlTypes;
using SignalStream.EventStore.Marten.Internal;

namespace SignalStream.EventStore.Marten;

internal sealed partial class MartenEventStore
{
    // A checked append races only a writer storing the same ids or creating the same stream at the same moment; past
    // this many attempts something else is wrong and the caller's retry (with backoff) takes over.
    private const int MaxCheckedAttempts = 5;

    public async ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        var streams = MergeStreams(group, out var total);
        if (total == 0)
        {
            return new AppendResult(AppendStatus.Committed, 0);
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        string? reason;
        await using (var transaction = await BeginWithXidAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await SaveAsync(transaction, streams, stored: null, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return new AppendResult(AppendStatus.Committed, total);
            }
            catch (Exception ex) when (RetryableReason(ex) is { } why)
            {
                // Marten fails the whole SaveChanges on one stored id (the unique event-id index) or one version
                // mismatch; the checked path tells which and appends the rest.
                reason = why;
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        Log.DirectAppendFellBack(_logger, reason, total);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await AppendCheckedAsync(connection, streams, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < MaxCheckedAttempts && RetryableReason(ex) is { } why)
            {
                Log.CheckedAppendRaced(_logger, why, attempt);
            }
        }
    }

    /// <summary>Appends <paramref name="group"/> as the fast path does (xid first, then Marten) in a transaction the caller commits: for tests that hold one open.</summary>
    internal async Task AppendWithinAsync(NpgsqlTransaction transaction, IReadOnlyList<StreamAppend> group)
    {
        await using (var xid = new NpgsqlCommand(Sql.TakeXid, transaction.Connection, transaction))
        {
            await xid.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        await SaveAsync(transaction, MergeStreams(group, out _), stored: null, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// One transaction: find which of the group's ids are stored, lock the streams that get new events, check expected
    /// versions against the locked rows, append only the new events. Throws (rolled back) when another writer raced it.
    /// </summary>
    private async ValueTask<AppendResult> AppendCheckedAsync(NpgsqlConnection connection, List<StreamPlan> streams, CancellationToken cancellationToken)
    {
        await using var transaction = await BeginWithXidAsync(connection, cancellationToken).ConfigureAwait(false);
        var ids = new List<Guid>();
        foreach (var plan in streams)
        {
            foreach (var e in plan.Events)
            {
                ids.Add(e.EventId);
            }
        }

        var stored = new HashSet<Guid>();
        await using (var command = new NpgsqlCommand(_sql.StoredIds, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                stored.Add(reader.GetGuid(0));
            }
        }

        var fresh = 0;
        var touched = new List<string>(streams.Count);
        foreach (var plan in streams)
        {
            var count = plan.FreshCount(stored);
            fresh += count;
            if (count > 0)
            {
                touched.Add(plan.Id);
            }
        }

        if (fresh == 0)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new AppendResult(AppendStatus.Committed, 0);
        }

        var versions = new Dictionary<string, long>(touched.Count, StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand(_sql.LockStreams, connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. touched], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                versions[reader.GetString(0)] = Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        foreach (var plan in streams)
        {
            var actual = versions.GetValueOrDefault(plan.Id);
            if (plan.Expected >= 0 && plan.FreshCount(stored) > 0 && actual != plan.Expected)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return new AppendResult(AppendStatus.WrongExpectedVersion, 0, plan.Id, actual);
            }
        }

        await SaveAsync(transaction, streams, stored, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new AppendResult(AppendStatus.Committed, fresh);
    }

    /// <summary>Appends every event of <paramref name="streams"/> not in <paramref name="stored"/> through a Marten session on <paramref name="transaction"/>.</summary>
    private async Task SaveAsync(NpgsqlTransaction transaction, List<StreamPlan> streams, HashSet<Guid>? stored, CancellationToken cancellationToken)
    {
        await using var session = _documents.LightweightSession(SessionOptions.ForTransaction(transaction));
        foreach (var plan in streams)
        {
            var bodies = new List<object>(plan.Events.Count);
            var events = new List<EventData>(plan.Events.Count);
            foreach (var e in plan.Events)
            {
                if (stored is null || !stored.Contains(e.EventId))
                {
                    bodies.Add(new RawEventBody(e.Data));
                    events.Add(e);
                }
            }

            if (events.Count == 0)
            {
                continue;
            }

            // Marten's expected version is the stream's version after the append, not before it.
            var action = plan.Expected >= 0
                ? session.Events.Append(plan.Id, plan.Expected + events.Count, [.. bodies])
                : session.Events.Append(plan.Id, [.. bodies]);

            var appended = action.Events;
            var first = appended.Count - events.Count;
            for (var i = 0; i < events.Count; i++)
            {
                var target = appended[first + i];
                var source = events[i];
                target.Id = source.EventId;
                target.EventTypeName = source.Type;
                target.Timestamp = source.CreatedAt;
                target.SetHeader(SchemaVersionHeader, source.SchemaVersion);
            }
        }

        await session.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlTransaction> BeginWithXidAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var xid = new NpgsqlCommand(Sql.TakeXid, connection, transaction);
        await xid.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return transaction;
    }

    /// <summary>Why a failed SaveChanges is worth the checked path (a stored id, a version conflict, a stream created concurrently), or null for a real failure.</summary>
    private static string? RetryableReason(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } pg:
                    return "unique violation on " + (pg.ConstraintName ?? "?");
                case PostgresException { SqlState: "MT003" }:
                    return "expected version mismatch";
            }

            // Marten's transforms of the two above (the types moved between Marten and JasperFx.Events across versions).
            if (e.GetType().Name is "EventStreamUnexpectedMaxEventIdException" or "ExistingStreamIdCollisionException" or "ConcurrencyException")
            {
                return e.GetType().Name;
            }
        }

        return null;
    }

    /// <summary>The group by stream (a group may name a stream twice), in first-seen order; the first append's expected version counts.</summary>
    private static List<StreamPlan> MergeStreams(IReadOnlyList<StreamAppend> group, out int total)
    {
        total = 0;
        var streams = new List<StreamPlan>(group.Count);
        var byId = new Dictionary<string, StreamPlan>(group.Count, StringComparer.Ordinal);
        foreach (var append in group)
        {
            total += append.Events.Count;
            if (!byId.TryGetValue(append.StreamId, out var plan))
            {
                plan = new StreamPlan(append.StreamId, append.ExpectedVersion);
                byId.Add(append.StreamId, plan);
                streams.Add(plan);
            }

            plan.Events.AddRange(append.Events);
        }

        return streams;
    }

    private sealed class StreamPlan(string id, long expected)
    {
        public string Id { get; } = id;

        public long Expected { get; } = expected;

        public List<EventData> Events { get; } = [];

        public int FreshCount(HashSet<Guid> stored)
        {
            var n = 0;
            foreach (var e in Events)
            {
                if (!stored.Contains(e.EventId))
                {
                    n++;
                }
            }

            return n;
        }
    }
}
