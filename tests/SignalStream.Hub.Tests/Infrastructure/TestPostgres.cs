namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Node settings for the real PostgreSQL of the test services (<see cref="TestServices.Postgres"/>).</summary>
internal static class TestPostgres
{
    /// <summary>
    /// Node settings for the PostgreSQL event store in a schema of its own: every node of one test shares it, and no
    /// two tests (or two runs) see each other's signals.
    /// </summary>
    public static string[] FreshStoreSettings() =>
        ["Storage:Provider=postgres", $"ConnectionStrings:Postgres={TestServices.Postgres}", $"Storage:Postgres:Schema={TestServices.NewSchema()}"];
}
