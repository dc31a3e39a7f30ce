using Npgsql;
using SignalStream.EventStore.Postgres;

namespace SignalStream.EventStore.Tests;

/// <summary>The private PostgreSQL started by scripts/test-services.sh (test.sh starts it for every run).</summary>
internal static class TestServices
{
    private static readonly Lazy<NpgsqlDataSource> s_dataSource = new(() => EventStoreDataSource.Create(PostgresConnectionString));

    public static string PostgresConnectionString =>
        Environment.GetEnvironmentVariable("SIGNALSTREAM_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "SIGNALSTREAM_TEST_POSTGRES is not set: these tests need the private PostgreSQL. " +
                "Run them through ./test.sh, or first: eval \"$(scripts/test-services.sh start)\".");

    /// <summary>One data source for the whole test run (connections pooled).</summary>
    public static NpgsqlDataSource DataSource => s_dataSource.Value;

    /// <summary>A schema name unique to one test, so tests never see each other's events.</summary>
    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N");

    public static async Task DropSchemaAsync(string schema)
    {
        await using var command = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE");
        await command.ExecuteNonQueryAsync();
    }

    public static string NewTempFolder()
    {
        var path = Path.Combine(Path.GetTempPath(), "signalstream-events-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
