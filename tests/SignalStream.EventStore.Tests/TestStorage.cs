using Npgsql;
using SignalStream.EventStore.Postgres;

namespace SignalStream.EventStore.Tests;

/// <summary>Where the stores under test keep their data: the test services' PostgreSQL (one pooled data source for the
/// run, a schema per test) and temporary folders for the file journal.</summary>
internal static class TestStorage
{
    private static readonly Lazy<NpgsqlDataSource> s_dataSource = new(() => EventStoreDataSource.Create(TestServices.Postgres));

    /// <summary>One data source for the whole test run (connections pooled).</summary>
    public static NpgsqlDataSource DataSource => s_dataSource.Value;

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
