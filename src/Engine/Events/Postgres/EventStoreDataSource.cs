using Npgsql;

namespace SignalStream.Engine.Events.Postgres;

/// <summary>Builds the event store's <see cref="NpgsqlDataSource"/>.</summary>
internal static class EventStoreDataSource
{
    public static NpgsqlDataSource Create(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);

        // Keeps the session's staging temp table across pool rentals (DISCARD ALL would drop it every group commit).
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.Name = "signalstream-events";
        return builder.Build();
    }
}
