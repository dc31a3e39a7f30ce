using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.Client;

/// <summary>
/// The server's REST API (<c>/api/…</c>, docs/hub.md "REST"), typed: what the hub does not replay. Give it an
/// <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/> is the server (<c>http://localhost:5080</c>, with a
/// trailing <c>/</c> when it has a path: <c>http://host/signalstream/</c>); the caller owns the client.
/// </summary>
public sealed class SignalStreamApi
{
    /// <summary>The most items a page holds (the server's limit).</summary>
    public const int MaxLimit = 1000;

    private readonly HttpClient _http;
    private readonly Func<Task<string?>>? _accessTokenProvider;

    /// <param name="http">Its <see cref="HttpClient.BaseAddress"/> is the server's base address.</param>
    /// <param name="accessTokenProvider">The bearer token when the server runs with <c>Auth:Mode=jwt</c>; asked for every request.</param>
    public SignalStreamApi(HttpClient http, Func<Task<string?>>? accessTokenProvider = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.BaseAddress is not { IsAbsoluteUri: true })
        {
            throw new ArgumentException("http.BaseAddress must be the server's absolute base address, for example http://localhost:5080.", nameof(http));
        }

        _http = http;
        _accessTokenProvider = accessTokenProvider;
    }

    /// <summary>
    /// A symbol's stored signals with <c>seq &gt; <paramref name="afterSeq"/></c>, oldest first, at most
    /// <paramref name="limit"/>: the ones a resume could not return (a <see cref="SignalGapException"/>, or a client that
    /// was away longer than the server's resume limit). Page on with the last one's <see cref="Signal.Seq"/> until a
    /// page is shorter than <paramref name="limit"/>.
    /// </summary>
    /// <exception cref="SignalStreamApiException">The server answered an error (its problem detail is the message).</exception>
    public async Task<IReadOnlyList<Signal>> GetSignalsAsync(string symbol, long afterSeq = 0, int limit = 100, CancellationToken cancellationToken = default) =>
        await GetAsync(PagePath("signals", symbol, null, "afterSeq", afterSeq, limit), ContractsJsonContext.Default.IReadOnlyListSignal, cancellationToken).ConfigureAwait(false) ?? [];

    /// <summary>
    /// A symbol's stored outcomes with <c>outcomeSeq &gt; <paramref name="afterOutcomeSeq"/></c>, oldest first, at most
    /// <paramref name="limit"/>: the ones an <see cref="OutcomeGapException"/> says were not recovered. Page on with the
    /// last one's <see cref="SignalOutcome.OutcomeSeq"/> until a page is shorter than <paramref name="limit"/>.
    /// </summary>
    /// <exception cref="SignalStreamApiException">The server answered an error (its problem detail is the message).</exception>
    public async Task<IReadOnlyList<SignalOutcome>> GetOutcomesAsync(string symbol, long afterOutcomeSeq = 0, int limit = 100, CancellationToken cancellationToken = default) =>
        await GetAsync(PagePath("outcomes", symbol, null, "afterOutcomeSeq", afterOutcomeSeq, limit), ContractsJsonContext.Default.IReadOnlyListSignalOutcome, cancellationToken).ConfigureAwait(false) ?? [];

    /// <summary>
    /// A candle stream's stored closed candles with <c>openTime &gt; <paramref name="afterOpenTime"/></c> (Unix ms),
    /// oldest first, at most <paramref name="limit"/>, in the shape of the live <c>candle</c> event
    /// (<see cref="CandleMessage.IsClosed"/> true): the closed candles sent while a client was away. Page on with the
    /// last one's <see cref="CandleMessage.OpenTime"/> until a page is shorter than <paramref name="limit"/>.
    /// </summary>
    /// <exception cref="SignalStreamApiException">The server answered an error (its problem detail is the message).</exception>
    public async Task<IReadOnlyList<CandleMessage>> GetCandlesAsync(
        string symbol, string timeframe, long afterOpenTime = 0, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(timeframe);
        if (!Timeframes.TryParse(timeframe.AsSpan(), out _))
        {
            throw new ArgumentException($"'{timeframe}' is not a Binance interval name (for example 1m, 5m, 1h).", nameof(timeframe));
        }

        return await GetAsync(PagePath("candles", symbol, timeframe, "afterOpenTime", afterOpenTime, limit), ContractsJsonContext.Default.IReadOnlyListCandleMessage, cancellationToken).ConfigureAwait(false) ?? [];
    }

    /// <summary>The path and query of one page, its arguments checked first (the server's rules, so a bad one costs no request).</summary>
    private static string PagePath(string what, string symbol, string? timeframe, string afterName, long after, int limit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(symbol);
        if (after < 0)
        {
            throw new ArgumentOutOfRangeException(afterName, after, $"{afterName} must be 0 or more.");
        }

        if (limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be from 1 to {MaxLimit}.");
        }

        var stream = timeframe is null ? "" : "&timeframe=" + Uri.EscapeDataString(timeframe);
        return string.Create(CultureInfo.InvariantCulture, $"/api/{what}?symbol={Uri.EscapeDataString(symbol)}{stream}&{afterName}={after}&limit={limit}");
    }

    private async Task<T?> GetAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json, CancellationToken cancellationToken)
    {
        // Relative to the base address, so a server under a path prefix (http://host/signalstream/) is asked there.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_http.BaseAddress!, path.TrimStart('/')));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_accessTokenProvider is not null && await _accessTokenProvider().ConfigureAwait(false) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new SignalStreamApiException(response.StatusCode, path, $"GET {path} failed with {(int)response.StatusCode}{Describe(body)}");
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, json, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The server answers errors as RFC 9457 problem details: their <c>detail</c> (or <c>title</c>), not raw JSON.</summary>
    private static string Describe(string body)
    {
        if (body.Length == 0)
        {
            return "";
        }

        try
        {
            using var problem = JsonDocument.Parse(body);
            foreach (var name in (ReadOnlySpan<string>)["detail", "title"])
            {
                if (problem.RootElement.ValueKind == JsonValueKind.Object
                    && problem.RootElement.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
                {
                    return ": " + text.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's page): its start, as it is.
        }

        return ": " + (body.Length <= 300 ? body : body[..300]);
    }
}

/// <summary>The server answered a REST call with an error: its status, the path and the server's message.</summary>
public sealed class SignalStreamApiException(System.Net.HttpStatusCode status, string path, string message) : Exception(message)
{
    /// <summary>The HTTP status (400 a bad parameter, 403 not entitled, 429 rate limited, 503 the store is unavailable: retry).</summary>
    public System.Net.HttpStatusCode Status { get; } = status;

    /// <summary>The path and query asked for.</summary>
    public string Path { get; } = path;
}
