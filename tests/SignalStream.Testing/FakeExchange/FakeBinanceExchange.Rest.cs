using System.Globalization;
using Microsoft.AspNetCore.Http;
using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>REST <c>GET /api/v3/klines</c> as rest-api.md documents it, with injectable 429s and oversized replies.</summary>
public sealed partial class FakeBinanceExchange
{
    private readonly object _restLock = new();
    private int _forcedRateLimits;
    private int _forcedStatus = 429;
    private string _retryAfter = "1";

    /// <summary>
    /// The next <paramref name="count"/> REST requests get <paramref name="status"/> (429 or 418) with
    /// <c>Retry-After: <paramref name="retryAfter"/></c> (seconds, or any text a broken proxy might send).
    /// </summary>
    public void RateLimitNextRestRequests(int count, int status = 429, string retryAfter = "1")
    {
        lock (_restLock)
        {
            _forcedRateLimits = count;
            _forcedStatus = status;
            _retryAfter = retryAfter;
        }
    }

    private IResult HandleKlines(HttpContext context)
    {
        Interlocked.Increment(ref _restRequests);
        bool limited;
        int status;
        string retryAfter;
        lock (_restLock)
        {
            limited = _forcedRateLimits > 0 || (_options.Faults.RestRateLimit > 0 && _faultRandom.NextDouble() < _options.Faults.RestRateLimit);
            if (_forcedRateLimits > 0)
            {
                _forcedRateLimits--;
            }

            status = _forcedStatus;
            retryAfter = _forcedRateLimits > 0 || limited ? _retryAfter : "1";
        }

        if (limited)
        {
            Interlocked.Increment(ref _restRateLimited);
            context.Response.Headers.RetryAfter = retryAfter;
            return Results.Json(new { code = -1003, msg = "Too many requests; current limit is 6000 request weight per 1 MINUTE." },
                statusCode: status);
        }

        if (OversizedRestReply(context) is { } oversized)
        {
            return oversized;
        }

        var query = context.Request.Query;
        var symbol = query["symbol"].ToString();
        if (symbol.Length == 0)
        {
            return Error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
        }

        if (!_streamsBySymbol.TryGetValue(symbol, out var bySymbol))
        {
            return Error(-1121, "Invalid symbol.");
        }

        if (!Timeframes.TryParse(query["interval"].ToString().AsSpan(), out var timeframe))
        {
            return Error(-1120, "Invalid interval.");
        }

        if (!bySymbol.ContainsKey(timeframe))
        {
            // The fake only generates what it streams; a real exchange would serve every interval.
            return Error(-1120, "Invalid interval.");
        }

        var limit = 500;
        if (query.ContainsKey("limit") && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            return Error(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '1000'.");
        }

        long? start = null, end = null;
        if (query.ContainsKey("startTime"))
        {
            if (!long.TryParse(query["startTime"], NumberStyles.None, CultureInfo.InvariantCulture, out var s))
            {
                return Error(-1100, "Illegal characters found in parameter 'startTime'.");
            }

            start = s;
        }

        if (query.ContainsKey("endTime"))
        {
            if (!long.TryParse(query["endTime"], NumberStyles.None, CultureInfo.InvariantCulture, out var e))
            {
                return Error(-1100, "Illegal characters found in parameter 'endTime'.");
            }

            end = e;
        }

        if (start > end)
        {
            return Error(-1023, "Start time is greater than end time.");
        }

        var now = Now;
        var currentOpen = timeframe.OpenTimeOf(now);
        var last = Math.Min(currentOpen, timeframe.OpenTimeOf(end ?? now));
        var opens = new List<long>();
        if (start is { } from)
        {
            var open = timeframe.OpenTimeOf(from);
            if (open < from)
            {
                open = timeframe.NextOpenTime(open);
            }

            for (; open <= last && opens.Count < limit; open = timeframe.NextOpenTime(open))
            {
                opens.Add(open);
            }
        }
        else
        {
            for (var open = last; opens.Count < limit; open = timeframe.OpenTimeOf(open - 1))
            {
                opens.Add(open);
            }

            opens.Reverse();
        }

        var candles = opens.Select(open => open == currentOpen
            ? Market.PartialAt(symbol, timeframe, open, (int)Math.Max(1, now - open), (int)(timeframe.NextOpenTime(open) - open))
            : Market.CandleAt(symbol, timeframe, open));
        return Results.Bytes(FakeFrames.KlinesArray(candles), "application/json");

        static IResult Error(int code, string message) => Results.Json(new { code, msg = message }, statusCode: 400);
    }
}
