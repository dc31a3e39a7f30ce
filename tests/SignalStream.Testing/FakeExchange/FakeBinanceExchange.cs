using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>
/// A fake Binance spot exchange in process: combined kline streams over WebSocket and REST klines, speaking the
/// documented protocol, with a controllable market clock and fault injection. Everything it sends and every fault it
/// injects is recorded, so a test can compute exactly what a correct client must deliver.
/// </summary>
public sealed partial class FakeBinanceExchange : IAsyncDisposable
{
    private readonly FakeExchangeOptions _options;
    private readonly Timeframe _baseTimeframe;
    private readonly StreamInfo[] _streams;
    private readonly Dictionary<string, StreamInfo> _streamsByName;
    private readonly Dictionary<string, Dictionary<Timeframe, StreamInfo>> _streamsBySymbol;
    private readonly List<FakeConnection> _connections = [];
    private readonly object _recordLock = new();
    private readonly List<KlineWrite> _writes = [];
    private readonly List<InjectedFault> _faults = [];
    private readonly List<string> _violations = [];
    private readonly List<ControlMessage> _controlMessages = [];
    private readonly CancellationTokenSource _shutdown = new();
    private WebApplication? _app;
    private Task? _timedLoop;
    private int _nextConnectionId;
    private long _pingsSent;
    private long _pongsMatched;
    private long _pongMismatches;
    private long _restRequests;
    private long _restRateLimited;
    private int _maxStreamsOnOneConnection;

    public FakeBinanceExchange(FakeExchangeOptions? options = null)
    {
        _options = options ?? new FakeExchangeOptions();
        if (_options.Timeframes.Count == 0 || _options.Symbols.Count == 0)
        {
            throw new ArgumentException("The fake exchange needs at least one symbol and one timeframe.", nameof(options));
        }

        Market = new FakeMarket(_options.Seed);
        _faultRandom = new Random(_options.Seed);
        _baseTimeframe = _options.Timeframes.Min();
        _streams = _options.Symbols
            .SelectMany(s => _options.Timeframes.Distinct().Select(tf => new StreamInfo(s.ToUpperInvariant(), tf)))
            .ToArray();
        _streamsByName = _streams.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _streamsBySymbol = _streams.GroupBy(s => s.Symbol)
            .ToDictionary(g => g.Key, g => g.ToDictionary(s => s.Timeframe), StringComparer.Ordinal);
        _clock = _baseTimeframe.OpenTimeOf(_options.StartTime) + 1;
    }

    /// <summary>The candles this exchange serves; a pure function, so tests can compute the exact expected values.</summary>
    public FakeMarket Market { get; }

    /// <summary><c>ws://127.0.0.1:port</c> once started (the client appends <c>/stream?streams=…</c>).</summary>
    public string StreamUrl { get; private set; } = "";

    /// <summary><c>http://127.0.0.1:port</c> once started.</summary>
    public string RestUrl { get; private set; } = "";

    /// <summary>The exchange's market clock (Unix ms).</summary>
    public long Now => Interlocked.Read(ref _clock);

    /// <summary>Stream names (<c>btcusdt@kline_1m</c>) in emission order.</summary>
    public IReadOnlyList<string> StreamNames => _streams.Select(s => s.Name).ToArray();

    public IReadOnlyList<KlineWrite> KlineWrites
    {
        get
        {
            lock (_recordLock)
            {
                return _writes.ToArray();
            }
        }
    }

    public IReadOnlyList<InjectedFault> InjectedFaults
    {
        get
        {
            lock (_recordLock)
            {
                return _faults.ToArray();
            }
        }
    }

    /// <summary>Protocol limits a client broke (5 messages a second, 1024 streams, pong timeouts, unmasked frames).</summary>
    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_recordLock)
            {
                return _violations.ToArray();
            }
        }
    }

    public IReadOnlyList<ControlMessage> ControlMessages
    {
        get
        {
            lock (_recordLock)
            {
                return _controlMessages.ToArray();
            }
        }
    }

    public long PingsSent => Interlocked.Read(ref _pingsSent);

    /// <summary>Pongs whose payload equalled an outstanding ping's.</summary>
    public long PongsMatched => Interlocked.Read(ref _pongsMatched);

    /// <summary>Pongs with a payload no outstanding ping had.</summary>
    public long PongMismatches => Interlocked.Read(ref _pongMismatches);

    public long RestRequests => Interlocked.Read(ref _restRequests);

    public long RestRateLimited => Interlocked.Read(ref _restRateLimited);

    /// <summary>WebSocket connections accepted so far.</summary>
    public int ConnectionsAccepted => Volatile.Read(ref _nextConnectionId);

    public int MaxStreamsOnOneConnection => Volatile.Read(ref _maxStreamsOnOneConnection);

    /// <summary>Healthy open connections (not dropped, stalled or shutting down) and how many streams each has subscribed.</summary>
    public IReadOnlyList<(int Id, int Streams)> OpenConnections
    {
        get
        {
            lock (_connections)
            {
                return _connections.Where(c => c.Healthy).Select(c => (c.Id, c.StreamCount)).ToArray();
            }
        }
    }

    /// <summary>Streams subscribed across open, healthy connections.</summary>
    public int SubscribedStreams => OpenConnections.Sum(c => c.Streams);

    public async Task<Uri> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(_options.Url);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // A /stream?streams=… URL for many streams is long; Kestrel's default request line limit is 8 KB.
            k.Limits.MaxRequestLineSize = 256 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 512 * 1024;
        });
        var app = builder.Build();
        app.Map("/stream", HandleStreamAsync);
        app.Map("/ws", HandleStreamAsync);
        app.MapGet("/api/v3/klines", HandleKlines);
        await app.StartAsync(cancellationToken);
        _app = app;

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.First();
        var uri = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        RestUrl = $"http://{uri.Host}:{uri.Port}";
        StreamUrl = $"ws://{uri.Host}:{uri.Port}";
        if (_options.Speed > 0)
        {
            // The loop runs until the exchange is disposed (_shutdown), not for as long as the start's token.
            _timedLoop = Task.Run(() => RunTimedAsync(_shutdown.Token), CancellationToken.None);
        }

        return new Uri(RestUrl);
    }

    /// <summary>Waits (polling) until <paramref name="condition"/> holds; throws a <see cref="TimeoutException"/> naming it otherwise.</summary>
    public async Task WaitUntilAsync(Func<FakeBinanceExchange, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Fake exchange: timed out after {timeout} waiting for {what}.");
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _shutdown.CancelAsync();
        if (_timedLoop is not null)
        {
            try
            {
                await _timedLoop;
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }

        FakeConnection[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

        foreach (var connection in open)
        {
            connection.Dead = true;
            connection.Abort();
        }

        if (_app is not null)
        {
            await _app.StopAsync(TimeSpan.FromSeconds(5));
            await _app.DisposeAsync();
        }

        _shutdown.Dispose();
    }

    private void Record(InjectedFault fault)
    {
        lock (_recordLock)
        {
            _faults.Add(fault);
        }
    }

    private void Violation(string what)
    {
        lock (_recordLock)
        {
            _violations.Add(what);
        }
    }

    private sealed class StreamInfo(string symbol, Timeframe timeframe)
    {
        public string Symbol { get; } = symbol;

        public Timeframe Timeframe { get; } = timeframe;

        public string Name { get; } = $"{symbol.ToLowerInvariant()}@kline_{timeframe.ToName()}";
    }
}
