using Npgsql;

namespace SignalStream.EventStore.Postgres;

/// <summary>Builds the event store's <see cref="NpgsqlDataSource"/>.</summary>
internal static class EventStoreDataSource
{
    private const int DefaultWriteBufferSize = 8192;
    private const int CopyWriteBufferSize = 256 * 1024;

    public static NpgsqlDataSource Create(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);

        // Keeps the session's staging temp table across pool rentals (DISCARD ALL would drop it every group commit).
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.Name = "signalstream-events";

        // A group commit streams megabytes of COPY rows: Npgsql's default 8 KB write buffer means a socket write every
        // ~20 events. Only when the connection string leaves it at the default.
        if (builder.ConnectionStringBuilder.WriteBufferSize == DefaultWriteBufferSize)
        {
            builder.ConnectionStringBuilder.WriteBufferSize = CopyWriteBufferSize;
        }

        // The same few statements run for every group commit and every projector read (the streams upsert, the
        // snapshot, the global read): prepared once per pooled connection, the server stops parsing and planning them
        // each time — a large share of a small group's cost at a trickle. Only when the connection string does not choose.
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 32;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }

        return builder.Build();
    }
}
