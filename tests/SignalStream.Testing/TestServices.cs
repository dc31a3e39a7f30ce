using System.Globalization;

namespace SignalStream.Testing;

/// <summary>
/// The private PostgreSQL and Redis that <c>scripts/test-services.sh start</c> runs and announces in environment
/// variables (test.sh starts them for every run). A test that needs one and does not find it fails, never skips, with
/// the command that starts them.
/// </summary>
public static class TestServices
{
    /// <summary>The PostgreSQL connection string (trust auth, loopback).</summary>
    public static string Postgres => Required("SIGNALSTREAM_TEST_POSTGRES");

    /// <summary>PostgreSQL's port, for a test that proxies or stops it.</summary>
    public static int PostgresPort => int.Parse(Required("SIGNALSTREAM_TEST_POSTGRES_PORT"), CultureInfo.InvariantCulture);

    /// <summary>PostgreSQL's data folder, for a test that stops and starts it with pg_ctl.</summary>
    public static string PostgresDataDirectory => Required("SIGNALSTREAM_TEST_POSTGRES_DATA");

    /// <summary>Redis as StackExchange.Redis takes it (<c>127.0.0.1:port</c>).</summary>
    public static string Redis => Required("SIGNALSTREAM_TEST_REDIS");

    /// <summary>Redis's port, for a test that stops and starts it.</summary>
    public static int RedisPort => int.Parse(Redis.AsSpan(Redis.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);

    /// <summary>The folder the services run in (their data, logs and pid files).</summary>
    public static string Directory => Required("SIGNALSTREAM_SERVICES_DIR");

    /// <summary>A PostgreSQL schema name of one test's own, so that no two tests (or two runs) see each other's data.</summary>
    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N");

    private static string Required(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{variable} is not set: these tests need the private PostgreSQL and Redis. Run them through ./test.sh, or first: " +
                "eval \"$(scripts/test-services.sh start)\" (and scripts/test-services.sh stop when done).");
}
