using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>
/// <c>GET /api/v3/klines</c> (weight 2, at most 1000 klines a page), with the retry rules of <c>rest-api.md</c>:
/// 429 (rate limit) and 418 (IP ban after ignoring 429s) carry <c>Retry-After</c> in seconds, and every request waits
/// it out — the wait is shared, because the limit is per IP, not per stream.
/// </summary>
internal sealed class BinanceRestClient(HttpClient http, BinanceOptions options, TimeProvider time, ILogger logger)
{
    public const int MaxLimit = 1000;

    /// <summary>The longest <c>Retry-After</c> honoured: Binance's IP bans last 2 minutes to 3 days.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromDays(3);

    /// <summary>How long from now every REST call waits because of a <c>Retry-After</c> (zero when none applies).</summary>
    public TimeSpan BlockedFor
    {
        get
        {
            var remaining = Interlocked.Read(ref _blockedUntilTimestamp) - time.GetTimestamp();
            return remaining > 0 ? TimeSpan.FromSeconds((double)remaining / time.TimestampFrequency) : TimeSpan.Zero;
        }
    }

    private readonly Uri _baseUri = new(options.RestUrl.TrimEnd('/') + "/");
    private long _blockedUntilTimestamp;

    /// <summary>Requests sent (a test and diagnostics aid).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    private long _requests;

    /// <summary>
    /// Fetches one page. Transient failures (network, 5xx, 429/418) are retried with backoff until cancelled;
    /// false means the exchange refused the request itself (4xx, for example an unknown symbol).
    /// </summary>
    public async Task<bool> GetKlinesAsync(StreamKey stream, long? startTime, long? endTime, int limit, List<Candle> into,
        CancellationToken cancellationToken)
    {
        var query = $"api/v3/klines?symbol={stream.Symbol}&interval={stream.Timeframe.ToName()}&limit={limit}"
                    + (startTime is { } s ? "&startTime=" + s.ToString(CultureInfo.InvariantCulture) : "")
                    + (endTime is { } e ? "&endTime=" + e.ToString(CultureInfo.InvariantCulture) : "");
        var uri = new Uri(_baseUri, query);
        var attempt = 0;
        while (true)
        {
            await WaitForRetryAfterAsync(cancellationToken).ConfigureAwait(false);
            TimeSpan delay;
            string problem;
            try
            {
                Interlocked.Increment(ref _requests);
                using var response = await http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.TooManyRequests or (HttpStatusCode)418)
                {
                    var retryAfter = response.Headers.RetryAfter?.Delta
                                     ?? (response.Headers.RetryAfter?.Date is { } at ? at - time.GetUtcNow() : (TimeSpan?)null)
                                     ?? TimeSpan.FromSeconds(1);
                    // Binance's longest ban is 3 days; a longer value is not Binance's (a proxy's, or corrupt), and left as
                    // is it would overflow the timestamp arithmetic and Task.Delay's limit (about 49 days).
                    retryAfter = TimeSpan.FromTicks(Math.Clamp(retryAfter.Ticks, 0, MaxRetryAfter.Ticks));

                    BlockFor(retryAfter);
                    Log.RestRateLimited(logger, stream.ToString(), (int)response.StatusCode, retryAfter);
                    continue;
                }

                var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    var before = into.Count;
                    if (TryParseKlines(body, stream, into))
                    {
                        return true;
                    }

                    into.RemoveRange(before, into.Count - before);
                    problem = "malformed klines response";
                }
                else if ((int)response.StatusCode is >= 400 and < 500)
                {
                    Log.RestRefused(logger, stream.ToString(), (int)response.StatusCode,
                        System.Text.Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 300))));
                    return false;
                }
                else
                {
                    problem = $"HTTP {(int)response.StatusCode}";
                }
            }
            catch (HttpRequestException ex)
            {
                problem = ex.Message;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                problem = "timed out";
            }

            delay = Backoff.Delay(attempt++, options.ReconnectDelayMin, options.ReconnectDelayMax);
            Log.RestFailed(logger, stream.ToString(), problem, delay);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void BlockFor(TimeSpan delay)
    {
        var until = time.GetTimestamp() + (long)(delay.TotalSeconds * time.TimestampFrequency);
        long current;
        do
        {
            current = Interlocked.Read(ref _blockedUntilTimestamp);
            if (current >= until)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _blockedUntilTimestamp, until, current) != current);
    }

    private async Task WaitForRetryAfterAsync(CancellationToken cancellationToken)
    {
        var remaining = Interlocked.Read(ref _blockedUntilTimestamp) - time.GetTimestamp();
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds((double)remaining / time.TimestampFrequency), time, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Parses the klines array: <c>[[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume",
    /// trades, "takerBuyBase", "takerBuyQuote", "ignore"], …]</c>. Every kline must be consistent and belong to the stream.
    /// </summary>
    internal static bool TryParseKlines(ReadOnlySpan<byte> json, StreamKey stream, List<Candle> into)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
            {
                if (!ReadInt(ref reader, out var openTime)
                    || !ReadDecimal(ref reader, out var open) || !ReadDecimal(ref reader, out var high)
                    || !ReadDecimal(ref reader, out var low) || !ReadDecimal(ref reader, out var close)
                    || !ReadDecimal(ref reader, out var volume) || !ReadInt(ref reader, out var closeTime)
                    || !ReadDecimal(ref reader, out var quoteVolume) || !ReadInt(ref reader, out var trades)
                    || !ReadDecimal(ref reader, out var takerBase) || !ReadDecimal(ref reader, out var takerQuote))
                {
                    return false;
                }

                // The twelfth element is "Ignore"; tolerate any further additions too.
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    reader.Skip();
                }

                var candle = new Candle(stream.Symbol, stream.Timeframe, openTime, closeTime, open, high, low, close,
                    volume, quoteVolume, trades, takerBase, takerQuote);
                if (!KlineFrameParser.IsConsistent(candle))
                {
                    return false;
                }

                into.Add(candle);
            }

            return reader.TokenType == JsonTokenType.EndArray;
        }
        catch (JsonException)
        {
            // A malformed body is an expected failure of a remote server; the caller retries.
            return false;
        }
    }

    private static bool ReadInt(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        return reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value);
    }

    private static bool ReadDecimal(ref Utf8JsonReader reader, out decimal value)
    {
        value = 0;
        return reader.Read() && reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped
               && Utf8Parser.TryParse(reader.ValueSpan, out value, out var consumed) && consumed == reader.ValueSpan.Length;
    }
}

/// <summary>Exponential backoff with jitter: min·2^attempt capped at max, then scaled by a random 50-100 %.</summary>
internal static class Backoff
{
    [SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Jitter that spreads reconnects; nothing depends on it being unpredictable.")]
    public static TimeSpan Delay(int attempt, TimeSpan min, TimeSpan max)
    {
        var ceiling = Math.Min(max.TotalMilliseconds, min.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() * 0.5)));
    }
}
