using System.Buffers;
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

    /// <summary>How much of a refusal's body is read, for the log.</summary>
    private const int RefusalLogBytes = 300;

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
    /// Fetches one page. Transient failures (network, 5xx, 429/418, a malformed or oversized body) are retried with backoff
    /// until cancelled;
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

                // Headers only: the body is read below, never past MaxRestResponseBytes (the default would buffer up to
                // 2 GiB). HttpClient.Timeout then covers the headers alone, so the body's read gets the same deadline.
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(http.Timeout);
                using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, deadline.Token)
                    .ConfigureAwait(false);
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

                if (response.IsSuccessStatusCode)
                {
                    var (body, length, truncated) = await ReadAtMostAsync(response.Content, options.MaxRestResponseBytes,
                        deadline.Token).ConfigureAwait(false);
                    try
                    {
                        var before = into.Count;
                        if (truncated)
                        {
                            // The path only: RestUrl may carry credentials, and the query is in the stream already.
                            problem = $"response longer than {options.MaxRestResponseBytes} bytes " +
                                      $"({BinanceOptions.SectionName}:MaxRestResponseBytes) from {uri.AbsolutePath}";
                        }
                        else if (TryParseKlines(body.AsSpan(0, length), stream, into))
                        {
                            return true;
                        }
                        else
                        {
                            into.RemoveRange(before, into.Count - before);
                            problem = "malformed klines response";
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(body);
                    }
                }
                else if ((int)response.StatusCode is >= 400 and < 500)
                {
                    var (body, length, _) = await ReadAtMostAsync(response.Content, RefusalLogBytes, deadline.Token)
                        .ConfigureAwait(false);
                    Log.RestRefused(logger, stream.ToString(), (int)response.StatusCode,
                        System.Text.Encoding.UTF8.GetString(body, 0, length));
                    ArrayPool<byte>.Shared.Return(body);
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

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes of <paramref name="content"/> into a pooled array the caller returns;
    /// <c>Truncated</c> when more followed (it is left unread: disposing the response drops the connection).
    /// </summary>
    private static async Task<(byte[] Buffer, int Length, bool Truncated)> ReadAtMostAsync(HttpContent content, int limit,
        CancellationToken cancellationToken)
    {
        // One byte past the limit tells a body of exactly the limit from a longer one. A page of 1000 klines is ~200 KB:
        // start at the declared length when there is one, else 64 KiB, and double.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, (content.Headers.ContentLength ?? (64 * 1024)) + 1));
        var length = 0;
        try
        {
            var body = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (length <= limit)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1L, buffer.Length * 2L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit + 1) - length), cancellationToken)
                    .ConfigureAwait(false);
                if (read == 0)
                {
                    return (buffer, length, false);
                }

                length += read;
            }

            return (buffer, limit, true);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
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
