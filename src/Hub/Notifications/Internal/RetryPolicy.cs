using System.Globalization;
using System.Net.Http.Headers;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>When to try a failed notification again.</summary>
internal static class RetryPolicy
{
    /// <summary>
    /// Exponential backoff with "equal jitter": the nominal delay <c>min(max, initial · 2^(attempt−1))</c>, of which a
    /// random half is kept, so a burst of failures does not come back as one burst. With a receiver's
    /// <c>Retry-After</c> (429 or 503), the wait is at least that long (capped at <see cref="RetrySettings.MaxRetryAfter"/>).
    /// </summary>
    /// <param name="attempt">The attempt that just failed, from 1.</param>
    public static TimeSpan Delay(RetrySettings settings, int attempt, TimeSpan? retryAfter, double random)
    {
        var exponent = Math.Min(Math.Max(attempt - 1, 0), 30);
        var nominal = Math.Min(settings.MaxDelay.Ticks, settings.InitialDelay.Ticks * (double)(1L << exponent));
        var backoff = TimeSpan.FromTicks((long)((nominal / 2) + (nominal / 2 * random)));
        if (retryAfter is { } asked)
        {
            var honoured = asked > settings.MaxRetryAfter ? settings.MaxRetryAfter : asked;
            return honoured > backoff ? honoured : backoff;
        }

        return backoff;
    }

    /// <summary>
    /// The receiver's <c>Retry-After</c> (RFC 9110 §10.2.3: delay-seconds or an HTTP date), read only for 429 and 503,
    /// the statuses it is defined to slow down; null when absent, unreadable or in the past.
    /// </summary>
    public static TimeSpan? RetryAfter(int status, RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        if (status is not (429 or 503) || header is null)
        {
            return null;
        }

        if (header.Delta is { } delta)
        {
            return delta > TimeSpan.Zero ? delta : TimeSpan.Zero;
        }

        return header.Date is { } date && date > now ? date - now : null;
    }

    /// <summary>Parses a Retry-After given in seconds (Discord and Telegram also put it in the body, possibly fractional).</summary>
    public static TimeSpan? Seconds(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds))
            : null;

    /// <summary>
    /// Whether an HTTP status is worth another attempt: 408, 425, 429 and 5xx (the receiver is busy or broken for now).
    /// Any other non-2xx — a 400 for a malformed request, 401/403 for a refused credential, 404/410 for a URL that is
    /// gone, 413 — would fail again the same way: it is a dead letter at once, with the status in its error.
    /// </summary>
    public static bool IsTransient(int status) => status is 408 or 425 or 429 or >= 500;
}
