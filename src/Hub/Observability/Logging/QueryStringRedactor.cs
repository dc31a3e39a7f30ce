using System.Text;

namespace SignalStream.Hub.Observability.Logging;

/// <summary>
/// Replaces the values of credential-bearing query parameters with <c>[redacted]</c> before a URL is logged.
/// Browsers cannot set headers on WebSocket requests, so SignalR sends the JWT as <c>?access_token=</c>: every
/// request log of <c>/hubs/signals</c> would otherwise carry a bearer token.
/// </summary>
internal static class QueryStringRedactor
{
    public const string Redacted = "[redacted]";

    private static readonly string[] s_sensitiveKeys =
        ["access_token", "token", "id_token", "refresh_token", "api_key", "apikey", "signature", "password", "secret"];

    /// <summary>The query string (with or without its leading '?') with every sensitive value replaced.</summary>
    public static string Redact(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return string.Empty;
        }

        var span = query.AsSpan();
        var builder = new StringBuilder(query.Length);
        if (span[0] == '?')
        {
            builder.Append('?');
            span = span[1..];
        }

        var first = true;
        while (true)
        {
            var end = span.IndexOf('&');
            var part = end < 0 ? span : span[..end];
            if (!first)
            {
                builder.Append('&');
            }

            first = false;
            var equals = part.IndexOf('=');
            var key = equals < 0 ? part : part[..equals];
            if (IsSensitive(key))
            {
                builder.Append(key).Append('=').Append(Redacted);
            }
            else
            {
                builder.Append(part);
            }

            if (end < 0)
            {
                return builder.ToString();
            }

            span = span[(end + 1)..];
        }
    }

    private static bool IsSensitive(ReadOnlySpan<char> rawKey)
    {
        // Keys may arrive percent-encoded ("access%5Ftoken"); compare what the server would decode.
        var key = rawKey.Contains('%') || rawKey.Contains('+')
            ? Uri.UnescapeDataString(rawKey.ToString().Replace('+', ' ')).AsSpan()
            : rawKey;
        foreach (var sensitive in s_sensitiveKeys)
        {
            if (key.Trim().Equals(sensitive, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
