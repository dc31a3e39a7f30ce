namespace SignalStream.Hub.Hosting;

/// <summary>What this process runs (<c>Node:Roles</c>): <c>all</c>, <c>engine</c> (ingest + engine) or <c>hub</c> (clients).</summary>
public sealed record NodeRoles(bool RunsEngine, bool ServesClients)
{
    public static NodeRoles Parse(string? value) => (value ?? "all").Trim().ToLowerInvariant() switch
    {
        "" or "all" => new NodeRoles(true, true),
        "engine" => new NodeRoles(true, false),
        "hub" => new NodeRoles(false, true),
        _ => throw new InvalidOperationException(
            $"Node:Roles is '{value}'; use 'all' (ingest, engine and hub in one process), 'engine' or 'hub'."),
    };

    public override string ToString() => (RunsEngine, ServesClients) switch
    {
        (true, true) => "all",
        (true, false) => "engine",
        _ => "hub",
    };
}
