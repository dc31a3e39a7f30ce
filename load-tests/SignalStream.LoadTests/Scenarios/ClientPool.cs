using System.Diagnostics;
using SignalStream.LoadTests.Clients;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>The run's clients: creates, connects (throttled, from several source addresses), pings and closes them.</summary>
internal sealed class ClientPool : IAsyncDisposable
{
    private const int ConnectAttempts = 3;
    private readonly LoopbackConnector _connector;
    private readonly Uri _server;
    private readonly CancellationTokenSource _pinging = new();
    private Task _pinger = Task.CompletedTask;

    public ClientPool(LoadTestOptions options, Uri server, string target, IReadOnlyList<string> symbols, int clients, double slowFraction,
        ClientMeasurement? measurement = null, int? symbolsPerClient = null)
    {
        measurement ??= ClientMeasurement.FromExchangeTime;
        _server = server;
        _connector = new LoopbackConnector(options.SourceAddresses, options.ConnectsInFlight, slowReceiveBufferBytes: 4096);
        var slowEvery = slowFraction > 0 ? (int)Math.Round(1 / slowFraction) : 0;
        Clients = new FanOutClient[clients];
        for (var i = 0; i < clients; i++)
        {
            var mine = new string[symbolsPerClient ?? options.SymbolsPerClient];
            for (var j = 0; j < mine.Length; j++)
            {
                mine[j] = symbols[((i * mine.Length) + j) % symbols.Count];
            }

            var slow = slowEvery > 0 && i % slowEvery == slowEvery - 1;
            // SignalStream and the SignalR peer speak the same hub protocol and take the same Subscribe; --protocol
            // messagepack switches SignalStream's clients (the peer serves JSON only).
            Clients[i] = target == Targets.SocketIo ? new SocketIoClient(i, mine, Stats, slow, measurement)
                : target == Targets.SignalStream && options.Protocol == "messagepack" ? new SignalRMessagePackClient(i, mine, Stats, slow, measurement)
                : new SignalRClient(i, mine, Stats, slow, measurement);
        }
    }

    public ClientStats Stats { get; } = new();

    public FanOutClient[] Clients { get; }

    /// <summary>Connects the clients; returns the seconds it took; failures are counted as errors.</summary>
    public async Task<double> ConnectAsync(IEnumerable<FanOutClient> clients, bool resume, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var tasks = clients.Select(c => _connector.ThrottleAsync(async () =>
        {
            // Like a real client, retry a failed connect (an overloaded server times handshakes out) with backoff;
            // every failed attempt is counted as an error.
            for (var attempt = 1; attempt <= ConnectAttempts; attempt++)
            {
                try
                {
                    await c.ConnectAsync(_server, _connector, resume, cancellationToken);
                    return attempt;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Stats.Error($"connect attempt {attempt}: {ex.GetType().Name}: {ex.Message}");
                    await c.DropAsync();
                    if (attempt < ConnectAttempts)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), cancellationToken);
                    }
                }
            }

            return 0;
        }, cancellationToken)).ToArray();
        await Task.WhenAll(tasks);
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// A one-connection pool subscribed to every symbol on <paramref name="hub"/>: each ledger's <see cref="Measurement.SeqLedger.StartSeq"/>
    /// is the store's last seq of its symbol (a fresh Subscribe answers the stored <c>latestSeq</c>). The caller disposes it.
    /// </summary>
    public static async Task<ClientPool> ReadStoredSeqAsync(LoadTestOptions options, Uri hub, IReadOnlyList<string> symbols, CancellationToken cancellationToken)
    {
        var probe = new ClientPool(options, hub, Targets.SignalStream, symbols, 1, 0, symbolsPerClient: symbols.Count);
        await probe.ConnectAsync(probe.Clients, resume: false, cancellationToken);
        if (!await probe.WaitSubscribedAsync(TimeSpan.FromSeconds(30), cancellationToken) || !probe.Clients[0].Connected
            || probe.Clients[0].Ledgers.Any(l => l.StartSeq < 0))
        {
            await probe.DisposeAsync();
            throw new InvalidOperationException($"a probe client could not read the stored seq from {hub}: {string.Join("; ", probe.Stats.ErrorSamples)}");
        }

        return probe;
    }

    /// <summary>Waits until every connected client's subscriptions are answered (bounded).</summary>
    public async Task<bool> WaitSubscribedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (Clients.All(c => !c.Connected || c.AllSubscribed))
            {
                return true;
            }

            await Task.Delay(100, cancellationToken);
        }

        return false;
    }

    /// <summary>Sends every client's keep-alive every 10 s (SignalR drops a client silent for 30 s).</summary>
    /// <summary>
    /// Each client pings every <see cref="PingPeriod"/>, the clients spread evenly over it as real clients are (each
    /// keeps its own timer from its own connect). Pinging all at once, as this did first, put 10,000 pings on the server
    /// in one burst every period, a latency spike the steady workload would never see.
    /// </summary>
    public void StartPinging()
    {
        var token = _pinging.Token;
        _pinger = Task.Run(async () =>
        {
            const int ticksPerPeriod = 100;
            using var timer = new PeriodicTimer(PingPeriod / ticksPerPeriod);
            var perTick = (Clients.Length + ticksPerPeriod - 1) / ticksPerPeriod;
            var next = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(token))
                {
                    for (var i = 0; i < perTick && Clients.Length > 0; i++, next = (next + 1) % Clients.Length)
                    {
                        if (Clients[next].Connected)
                        {
                            await Clients[next].PingAsync(token);
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Run over.
            }
        }, CancellationToken.None);
    }

    private static readonly TimeSpan PingPeriod = TimeSpan.FromSeconds(10);

    public async ValueTask DisposeAsync()
    {
        await _pinging.CancelAsync();
        await _pinger;
        await Task.WhenAll(Clients.Select(c => c.CloseAsync()));
        _connector.Dispose();
        _pinging.Dispose();
    }
}
