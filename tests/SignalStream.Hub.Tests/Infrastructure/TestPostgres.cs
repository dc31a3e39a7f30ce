namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>The real PostgreSQL started by scripts/test-services.sh; tests fail (never skip) when it is missing.</summary>
internal static class TestPostgres
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("SIGNALSTREAM_TEST_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "SIGNALSTREAM_TEST_POSTGRES is not set: run `eval \"$(scripts/test-services.sh start)\"` first (test.sh does this).");

    /// <summary>
    /// Node settings for the PostgreSQL event store in a schema of its own: every node of one test shares it, and no
    /// two tests (or two runs) see each other's signals.
    /// </summary>
    public static string[] FreshStoreSettings()
    {
        var connectionString = ConnectionString;
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        return ["Storage:Provider=postgres", $"ConnectionStrings:Postgres={connectionString}", $"Storage:Postgres:Schema={schema}"];
    }
}
