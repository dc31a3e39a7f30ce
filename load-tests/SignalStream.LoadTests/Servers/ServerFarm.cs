using SignalStream.Testing;

namespace SignalStream.LoadTests.Servers;

/// <summary>Starts the servers of one run (Redis, PostgreSQL, SignalStream nodes, the SignalR and Socket.IO peers) and kills
/// them all at the end.</summary>
internal sealed class ServerFarm : IAsyncDisposable
{
    private const string PostgresBin = "/usr/lib/postgresql/15/bin";
    private readonly LoadTestOptions _options;
    private readonly string _folder;
    private readonly List<ManagedProcess> _processes = [];
    private readonly List<string> _scratch = [];

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

    /// <summary>
    /// A private PostgreSQL (initdb into a temporary folder, a free loopback port, trust auth) for the nodes' event store,
    /// like scripts/test-services.sh; killed and deleted at the end of the run. PostgreSQL refuses to run as root, so
    /// under root it runs as the <c>postgres</c> user through <c>setpriv</c>, which execs (the pid is the postmaster's).
    /// </summary>
    public async Task<(ManagedProcess Process, string ConnectionString)> StartPostgresAsync(string name, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("signalstream-loadtest-pg-").FullName;
        _scratch.Add(dir);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The load harness runs PostgreSQL, Redis and /proc sampling on Linux only.");
        }

        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var asPostgres = Environment.UserName == "root";
        if (asPostgres)
        {
            await RunToEndAsync(name + "-chown", "chown", ["postgres:postgres", dir], cancellationToken);
        }

        var data = Path.Combine(dir, "data");
        await RunToEndAsync(name + "-initdb", AsPostgres(asPostgres, Path.Combine(PostgresBin, "initdb")).File,
            [.. AsPostgres(asPostgres, Path.Combine(PostgresBin, "initdb")).Arguments, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C.UTF-8", "-N"], cancellationToken);
        var port = LoopbackPort.Free();
        var (file, prefix) = AsPostgres(asPostgres, Path.Combine(PostgresBin, "postgres"));
        var postgres = Track(ManagedProcess.Start(name, file,
            [.. prefix, "-D", data, "-p", port.ToString(), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"], _folder));
        await postgres.WaitForPortAsync(port, TimeSpan.FromSeconds(30), cancellationToken);
        return (postgres, $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true");
    }

    private static (string File, string[] Arguments) AsPostgres(bool asPostgres, string program) => asPostgres
        ? ("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program])
        : (program, []);

    private async Task RunToEndAsync(string name, string file, string[] arguments, CancellationToken cancellationToken)
    {
        await using var process = ManagedProcess.Start(name, file, arguments, _folder);
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {code}; see {name}.log");
        }
    }

    /// <summary>A SignalStream node (<c>src/Hub</c>): role hub (Redis-fed), or all (with the fake exchange as source).</summary>
    public async Task<(ManagedProcess Process, Uri Url)> StartSignalStreamAsync(
        string name, string role, IReadOnlyList<string> symbols, IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var port = LoopbackPort.Free();
        var url = new Uri($"http://127.0.0.1:{port}");
        // The node as `dotnet run --project src/Hub` starts it (its launch profile's runtime settings), then the run's own.
        var environment = new Dictionary<string, string>(NodeLaunchProfile.EnvironmentOf(_options.HubDll))
        {
            ["Logging__LogLevel__Default"] = "Warning",
            ["Node__Roles"] = role,
            ["Storage__Provider"] = "file",
            ["Storage__File__Path"] = Scratch(Path.Combine(_folder, name + "-data")),
            ["Hub__MaxConnections"] = "50000",
            // Every load client connects from loopback: the per-address cap would refuse all but the first 200.
            ["Hub__MaxConnectionsPerIp"] = "0",
            // ... and are one client to the connect limit (thousands connect at once, and again in the reconnect storm)
            // and to the reconnect penalty (one client cut in the slow-consumer scenario would hold off all the others).
            ["Hub__ConnectsPerSecond"] = "0",
            ["Hub__ReconnectPenalty"] = "00:00:00",
            // ... and one address to the per-address queued-bytes bound (10,000 subscribers' queues in a burst).
            ["Hub__MaxQueuedBytesPerIp"] = "0",
            // Thousands of connects in flight on a saturated machine may take longer than the default 5 s.
            ["Hub__HandshakeTimeout"] = "00:00:30",
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

        foreach (var (key, value) in _options.ServerEnvironment)
        {
            environment[key] = value;
        }

        var process = Track(ManagedProcess.Start(name, "dotnet", [_options.HubDll, "--urls", url.ToString().TrimEnd('/')], _folder, environment,
            Path.GetDirectoryName(_options.HubDll)));
        await process.WaitForHttpAsync(new Uri(url, "/health/live"), TimeSpan.FromSeconds(90), cancellationToken);
        return (process, url);
    }

    /// <summary>The Socket.IO peer (<c>load-tests/peer-socketio</c>), fed from <paramref name="redis"/>.</summary>
    public async Task<(ManagedProcess Process, Uri Url)> StartSocketIoPeerAsync(string redis, CancellationToken cancellationToken)
    {
        var port = LoopbackPort.Free();
        var process = Track(ManagedProcess.Start("peer-socketio", "node",
            [Path.Combine(_options.PeerFolder, "server.js"), "--port", port.ToString(), "--redis", redis, "--prefix", _options.ChannelPrefix],
            _folder, environment: null, workingDirectory: _options.PeerFolder));
        var url = new Uri($"http://127.0.0.1:{port}");
        await process.WaitForHttpAsync(new Uri(url, "/health"), TimeSpan.FromSeconds(60), cancellationToken);
        return (process, url);
    }

    /// <summary>
    /// The ASP.NET Core SignalR peer (<c>load-tests/peer-signalr</c>), fed from <paramref name="redis"/> and scaled out on it
    /// with the Redis backplane; run like a SignalStream node (<c>dotnet</c> on the Release build, server GC, warnings only
    /// in its log). Ready once its feed has subscribed every symbol's channel.
    /// </summary>
    public async Task<(ManagedProcess Process, Uri Url)> StartSignalRPeerAsync(string redis, IReadOnlyList<string> symbols, CancellationToken cancellationToken)
    {
        var port = LoopbackPort.Free();
        var url = new Uri($"http://127.0.0.1:{port}");
        // The peer as its project ships it (server GC, ASP.NET Core's default), not SignalStream's runtime settings.
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_gcServer"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Peer__Redis"] = redis,
            ["Peer__ChannelPrefix"] = _options.ChannelPrefix,
        };
        for (var i = 0; i < symbols.Count; i++)
        {
            environment[$"Peer__Symbols__{i}"] = symbols[i];
        }

        foreach (var (key, value) in _options.ServerEnvironment)
        {
            environment[key] = value;
        }

        var process = Track(ManagedProcess.Start("peer-signalr", "dotnet", [_options.PeerSignalRDll, "--urls", url.ToString().TrimEnd('/')], _folder,
            environment, Path.GetDirectoryName(_options.PeerSignalRDll)));
        await process.WaitForHttpAsync(new Uri(url, "/health"), TimeSpan.FromSeconds(90), cancellationToken);
        return (process, url);
    }

    private ManagedProcess Track(ManagedProcess process)
    {
        _processes.Add(process);
        return process;
    }

    /// <summary>
    /// A folder the run needs only while it lasts (a node's file journal: a closing bell's is ~450 MB), deleted with the
    /// farm; the logs and reports beside it stay.
    /// </summary>
    private string Scratch(string path)
    {
        var dir = Directory.CreateDirectory(path).FullName;
        _scratch.Add(dir);
        return dir;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        _processes.Clear();
        foreach (var dir in _scratch)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"could not delete {dir}: {ex.Message}");
            }
        }

        _scratch.Clear();
    }
}
