using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Client.Internal;
using SignalStream.Contracts;

namespace SignalStream.Client;

/// <summary>
/// One connection to a SignalStream hub, shared by every subscription made through it, on the official SignalR .NET
/// client. Each symbol is one unfiltered server subscription, so its seq is contiguous on the wire and a hole or a
/// duplicate is exact to detect; each application subscription filters its own copy. After any reconnect (SignalR's
/// automatic one, or the client's own restart when the server closed the connection) every symbol is re-subscribed with
/// <c>afterSeq</c> = the last seq released, and the missed signals arrive, in order, before the live ones; likewise
/// with <c>afterOutcomeSeq</c> = the last outcomeSeq delivered for the outcomes resolved meanwhile.
/// </summary>
public sealed partial class SignalStreamClient : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly SignalStreamClientOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SymbolChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Symbol, Timeframe Timeframe), CandleChannel> _candles = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly HttpClient _http;
    private readonly CandlePages _candlePages;
    private int _epoch;

    private SignalStreamClient(Uri hubUrl, SignalStreamClientOptions options)
    {
        _options = options;
        _logger = options.LoggerFactory.CreateLogger<SignalStreamClient>();
        // Closed candles missed while reconnecting come from the server's REST API, beside the hub.
        _http = new HttpClient { BaseAddress = new Uri(hubUrl, hubUrl.AbsolutePath.TrimEnd('/')[..^HubNames.Path.Length] + "/") };
        _candlePages = new CandlePages(new SignalStreamApi(_http, options.AccessTokenProvider));
        var builder = new HubConnectionBuilder()
            .WithUrl(hubUrl, http =>
            {
                http.Transports = options.Transports;
                http.SkipNegotiation = options.SkipNegotiation;
                if (options.AccessTokenProvider is { } tokens)
                {
                    http.AccessTokenProvider = tokens;
                }
            })
            .WithAutomaticReconnect(new ForeverRetryPolicy(options.ReconnectDelays));
        builder.Services.AddSingleton<ILoggerFactory>(options.LoggerFactory);
        if (options.Protocol == SignalStreamProtocol.MessagePack)
        {
            builder.AddMessagePackProtocol(); // replaces JSON: the connection speaks the last protocol registered
        }

        options.ConfigureConnection?.Invoke(builder);
        _connection = builder.Build();

        _connection.On<Signal>(HubNames.SignalEvent, signal => ChannelOf(signal.Symbol)?.OnLive(signal));
        _connection.On<SignalOutcome>(HubNames.SignalResolvedEvent, outcome => ChannelOf(outcome.Symbol)?.OnResolved(outcome));
        _connection.On<CandleMessage>(HubNames.CandleEvent, candle =>
        {
            if (_candles.TryGetValue((Normalize(candle.Symbol), candle.Timeframe), out var channel))
            {
                channel.OnCandle(candle);
            }
        });
        _connection.Reconnecting += error =>
        {
            Interlocked.Increment(ref _epoch);
            Log.Reconnecting(_logger, error?.Message ?? "the connection dropped");
            return Task.CompletedTask;
        };
        _connection.Reconnected += _ =>
        {
            OnConnected();
            return Task.CompletedTask;
        };
        _connection.Closed += OnClosedAsync;
    }

    /// <summary>The connection's state right now.</summary>
    public HubConnectionState State => _connection.State;

    /// <summary>The hub's URL.</summary>
    public Uri HubUrl { get; private init; } = null!;

    internal bool IsConnected => _connection.State == HubConnectionState.Connected;

    internal SignalStreamClientOptions Options => _options;

    internal ILogger Logger => _logger;

    /// <summary>
    /// Connects to a SignalStream server (its base address, such as <c>http://localhost:5080</c>, or the hub's own
    /// <c>/hubs/signals</c> URL). Throws when the first attempt fails; later drops are repaired by reconnecting.
    /// </summary>
    public static async Task<SignalStreamClient> ConnectAsync(Uri url, SignalStreamClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        options ??= new SignalStreamClientOptions();
        options.Validate();
        var hubUrl = HubUrlOf(url);
        var client = new SignalStreamClient(hubUrl, options) { HubUrl = hubUrl };
        try
        {
            await client._connection.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return client;
    }

    /// <summary>
    /// Subscribes to a symbol's signals. Completes once the server accepted; the latest signal per timeframe arrives
    /// first (<see cref="SignalSource.Snapshot"/>), then every later one in seq order. Throws
    /// <see cref="SubscriptionRefusedException"/> when the server refuses.
    /// </summary>
    public async Task<SignalSubscription> SubscribeAsync(string symbol, SignalFilter filter, SignalHandlers handlers, CancellationToken cancellationToken = default)
    {
        var key = ValidateSymbol(symbol);
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(handlers);
        var accepts = CompileFilter(filter);
        ObjectDisposedException.ThrowIf(_closing.IsCancellationRequested, this);

        var channel = _channels.GetOrAdd(key, static (k, client) => new SymbolChannel(client, k), this);
        var subscription = new SignalSubscription(channel, accepts, filter, handlers);
        if (channel.Join(subscription))
        {
            return subscription; // the symbol was already live: the snapshot was replayed to the newcomer
        }

        try
        {
            await channel.Established.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return subscription;
    }

    /// <summary>Subscribes to a candle stream (in progress and closed updates); a stale or repeated closed candle is dropped.</summary>
    public Task<IAsyncDisposable> SubscribeCandlesAsync(string symbol, string timeframe, Action<CandleMessage> onCandle, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onCandle);
        return SubscribeCandlesAsync(symbol, timeframe, new CandleHandlers { OnCandle = onCandle }, cancellationToken);
    }

    /// <summary>
    /// Subscribes to a candle stream: in-progress updates of the current bar, and every closed candle once, in openTime
    /// order. After a reconnect the closed candles sent meanwhile are fetched from <c>/api/candles</c> and delivered before
    /// the live ones that follow; a stale or repeated candle is dropped. Throws <see cref="SubscriptionRefusedException"/>
    /// when the server refuses.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeCandlesAsync(string symbol, string timeframe, CandleHandlers handlers, CancellationToken cancellationToken = default)
    {
        var key = ValidateSymbol(symbol);
        if (!Timeframes.TryParse(timeframe.AsSpan(), out var tf))
        {
            throw new ArgumentException($"'{timeframe}' is not a Binance interval name (for example 1m, 5m, 1h).", nameof(timeframe));
        }

        ArgumentNullException.ThrowIfNull(handlers);
        ArgumentNullException.ThrowIfNull(handlers.OnCandle, nameof(handlers.OnCandle));
        var isNew = false;
        var channel = _candles.GetOrAdd((key, tf), _ =>
        {
            isNew = true;
            return new CandleChannel(key, tf, _candlePages, _options.RecoveryRetryDelays, _logger, _closing.Token);
        });
        var handle = channel.Add(handlers);
        if (isNew && IsConnected)
        {
            try
            {
                await _connection.InvokeAsync(HubNames.SubscribeCandles, key, timeframe, cancellationToken).ConfigureAwait(false);
            }
            catch (HubException ex)
            {
                _candles.TryRemove((key, tf), out _);
                channel.Close();
                throw new SubscriptionRefusedException(key, $"SubscribeCandles({key}, {timeframe}) was refused: {ex.Message}", ex);
            }
        }

        return new CandleSubscription(this, channel, handle);
    }

    /// <summary>Stops the connection and every subscription; no reconnect follows.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_closing.IsCancellationRequested)
        {
            return;
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        foreach (var channel in _channels.Values)
        {
            channel.Close(new ObjectDisposedException(nameof(SignalStreamClient), "the client was closed"));
        }

        _channels.Clear();
        foreach (var candles in _candles.Values)
        {
            candles.Close();
        }

        _candles.Clear();
        await _connection.DisposeAsync().ConfigureAwait(false);
        _candlePages.Dispose();
        _http.Dispose();
        _closing.Dispose();
    }

    /// <summary>Changes whenever the connection drops: a failure from an older epoch was the drop, not a refusal.</summary>
    internal int Epoch => Volatile.Read(ref _epoch);

    internal Task<SubscribeResult> InvokeSubscribeAsync(SubscribeRequest request) =>
        _connection.InvokeAsync<SubscribeResult>(HubNames.Subscribe, request, _closing.Token);

    /// <summary>Forgets a channel the server refused or the last subscription left; unsubscribes on the server if connected.</summary>
    internal async Task ReleaseAsync(SymbolChannel channel, bool unsubscribe)
    {
        if (!_channels.TryRemove(new KeyValuePair<string, SymbolChannel>(channel.Symbol, channel)) || !unsubscribe)
        {
            return;
        }

        await InvokeIfConnectedAsync(HubNames.Unsubscribe, channel.Symbol).ConfigureAwait(false);
    }

    internal async Task ReleaseAsync(CandleChannel channel)
    {
        if (_candles.TryRemove(new KeyValuePair<(string, Timeframe), CandleChannel>((channel.Symbol, channel.Timeframe), channel)))
        {
            await InvokeIfConnectedAsync(HubNames.UnsubscribeCandles, channel.Symbol, channel.Timeframe.ToName()).ConfigureAwait(false);
        }
    }

    private async Task InvokeIfConnectedAsync(string method, params object?[] arguments)
    {
        if (!IsConnected || _closing.IsCancellationRequested)
        {
            return; // the server drops a connection's subscriptions with the connection itself
        }

        try
        {
            await _connection.InvokeCoreAsync(method, arguments, _closing.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HubException or InvalidOperationException or IOException or OperationCanceledException)
        {
            Log.InvocationFailed(_logger, method, ex.Message);
        }
    }

    private SymbolChannel? ChannelOf(string symbol) => _channels.TryGetValue(Normalize(symbol), out var channel) ? channel : null;

    private void OnConnected()
    {
        Log.Connected(_logger, _channels.Count);
        foreach (var channel in _channels.Values)
        {
            channel.RequestSubscribe();
        }

        foreach (var candles in _candles.Values)
        {
            // Held from before the re-subscribe: a live candle that comes first is after the ones the fetch returns.
            candles.BeginRecovery();
            _ = ResubscribeCandlesAsync(candles);
        }
    }

    private async Task ResubscribeCandlesAsync(CandleChannel candles)
    {
        if (!IsConnected || _closing.IsCancellationRequested)
        {
            return; // the next (re)connect begins again
        }

        try
        {
            await _connection.InvokeAsync(HubNames.SubscribeCandles, candles.Symbol, candles.Timeframe.ToName(), _closing.Token).ConfigureAwait(false);
            candles.Recover();
        }
        catch (HubException ex)
        {
            // Refused: nothing more comes live, so what is held is delivered and the refusal reported.
            Log.InvocationFailed(_logger, HubNames.SubscribeCandles, ex.Message);
            candles.AbandonRecovery(new SubscriptionRefusedException(candles.Symbol,
                $"SubscribeCandles({candles.Symbol}, {candles.Timeframe.ToName()}) was refused: {ex.Message}", ex));
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or OperationCanceledException)
        {
            Log.InvocationFailed(_logger, HubNames.SubscribeCandles, ex.Message); // dropped meanwhile: the next reconnect begins again
        }
    }

    /// <summary>
    /// SignalR reconnects by itself after a transport failure, but not when the server closes the connection without
    /// allowing it (a restart, an expired token, a cut for being slow): retry here too, forever, with the same waits.
    /// </summary>
    private async Task OnClosedAsync(Exception? error)
    {
        Interlocked.Increment(ref _epoch);
        if (_closing.IsCancellationRequested)
        {
            return;
        }

        Log.Closed(_logger, error?.Message ?? "closed by the server");
        for (var attempt = 0; !_closing.IsCancellationRequested; attempt++)
        {
            var delays = _options.ReconnectDelays;
            try
            {
                await Task.Delay(delays[Math.Min(attempt, delays.Count - 1)], _closing.Token).ConfigureAwait(false);
                await _connection.StartAsync(_closing.Token).ConfigureAwait(false);
                OnConnected();
                return;
            }
            catch (OperationCanceledException) when (_closing.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.RestartFailed(_logger, attempt + 1, ex.Message);
            }
        }
    }

    private static Uri HubUrlOf(Uri url)
    {
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"'{url}' is not an http(s) URL of a SignalStream server (for example http://localhost:5080).", nameof(url));
        }

        return url.AbsolutePath.TrimEnd('/').EndsWith(HubNames.Path, StringComparison.OrdinalIgnoreCase)
            ? url
            : new Uri(url, url.AbsolutePath.TrimEnd('/') + HubNames.Path);
    }

    internal static string Normalize(string symbol) => symbol.ToUpperInvariant();

    private static string ValidateSymbol(string symbol)
    {
        if (string.IsNullOrEmpty(symbol) || symbol.Length > 32 || !symbol.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"'{symbol}' is not a symbol: expected 1 to 32 letters and digits, for example BTCUSDT.", nameof(symbol));
        }

        return Normalize(symbol);
    }

    private static Func<Signal, bool> CompileFilter(SignalFilter filter)
    {
        HashSet<Timeframe>? wanted = null;
        if (filter.Timeframes is { Count: > 0 } names)
        {
            wanted = [];
            foreach (var name in names)
            {
                if (!Timeframes.TryParse(name.AsSpan(), out var tf))
                {
                    throw new ArgumentException($"filter timeframe '{name}' is not a Binance interval name (for example 1m, 5m, 1h).", nameof(filter));
                }

                wanted.Add(tf);
            }
        }

        if (filter.MinConfidence is { } min && !(min >= 0 && min <= 100))
        {
            throw new ArgumentException($"filter MinConfidence must be between 0 and 100, not {min}.", nameof(filter));
        }

        var floor = filter.MinConfidence ?? 0;
        return signal => (wanted is null || wanted.Contains(signal.Timeframe)) && signal.Confidence >= floor;
    }

    private sealed class ForeverRetryPolicy(IReadOnlyList<TimeSpan> delays) : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            delays[(int)Math.Min(retryContext.PreviousRetryCount, delays.Count - 1)];
    }
}
