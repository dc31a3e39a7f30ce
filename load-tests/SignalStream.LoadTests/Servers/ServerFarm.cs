namespace SignalStream.LoadTests.Servers;

/// <summary>Starts the servers of one run (Redis, SignalStream nodes, the Socket.IO peer) and kills them all at the end.</summary>
internal sealed class ServerFarm : IAsyncDisposable
{
    private readonly LoadTestOptions _options;
    private readonly string _folder;
    private readonly List<ManagedProcess> _processes = [];

    public ServerFarm(LoadTestOptions options, string folder)
    {
        _options = options;
        _folder = folder;
    }

    public async Task<(ManagedProcess Process, string Endpoint)> StartRedisAsync(string name, int port, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_folder, name)).FullName;
        var redis = Track(ManagedProcess.Start(name, "redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
                "--client-output-buffer-limit", "pubsub", "0", "0", "0"], _folder));
        await redis.WaitForPortAsync(port, TimeSpan.FromSeconds(20), cancellationToken);
        return (redis, $"127.0.0.1:{port}");
    }

    /// <summary>A SignalStream node (<c>src/Hub</c>): role hub (Redis-fed), or all (with the fake exchange as source).</summary>
    public async Task<(ManagedProcess Process, Uri Url)> StartSignalStreamAsync(
        string name, string role, IReadOnlyList<string> symbols, IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var port = ManagedProcess.FreePort();
        var url = new Uri($"http://127.0.0.1:{port}");
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_gcServer"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Node__Roles"] = role,
            ["Storage__Provider"] = "file",
            ["Storage__File__Path"] = Directory.CreateDirectory(Path.Combine(_folder, name + "-data")).FullName,
            ["Hub__MaxConnections"] = "50000",
            ["Hub__InvocationBurst"] = "2000",
            ["Hub__InvocationsPerSecond"] = "1000",
            ["Hub__MaxSubscriptionsPerConnection"] = "2000",
        };
        for (var i = 0; i < symbols.Count; i++)
        {
            environment[$"Ingest__Symbols__{i}"] = symbols[i];
        }

        foreach (var (key, value) in settings)
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Track(ManagedProcess.Start(name, "dotnet", [_options.HubDll, "--urls", url.ToString().TrimEnd('/')], _folder, environment,
            Path.GetDirectoryName(_options.HubDll)));
        await process.WaitForHttpAsync(new Uri(url, "/health/live"), TimeSpan.FromSeconds(90), cancellationToken);
        return (process, url);
    }

    public async Task<(ManagedProcess Process, Uri Url)> StartPeerAsync(string redis, CancellationToken cancellationToken)
    {
        var port = ManagedProcess.FreePort();
        var process = Track(ManagedProcess.Start("peer-socketio", "node",
            [Path.Combine(_options.PeerFolder, "server.js"), "--port", port.ToString(), "--redis", redis, "--prefix", _options.ChannelPrefix],
            _folder, environment: null, workingDirectory: _options.PeerFolder));
        var url = new Uri($"http://127.0.0.1:{port}");
        await process.WaitForHttpAsync(new Uri(url, "/health"), TimeSpan.FromSeconds(60), cancellationToken);
        return (process, url);
    }

    private ManagedProcess Track(ManagedProcess process)
    {
        _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        _processes.Clear();
    }
}
