using System.Globalization;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>A JSON value of a known field as it came: its token type and its text (a string's value, a number's digits).</summary>
internal readonly record struct RawField(JsonTokenType Type, string? Text)
{
    public bool IsPresent => Type != JsonTokenType.None;

    public bool IsAbsent => Type is JsonTokenType.None or JsonTokenType.Null;
}

/// <summary>A field the body got wrong, and what to send instead.</summary>
internal sealed record FieldProblem(string Field, string Detail);

/// <summary>The alert's fields, checked: what the engine needs and what is stored.</summary>
internal sealed record AlertFields(
    string Ticker,
    string Symbol,
    AlertAction Action,
    string RawAction,
    decimal Price,
    string? Interval,
    Timeframe? Timeframe,
    decimal? Stop,
    decimal? Target,
    string? Strategy,
    string? Comment,
    string? Id,
    DateTimeOffset? FiredAt);

/// <summary>
/// TradingView's alert JSON (docs/signals.md, "TradingView alerts"), read in two steps so nothing about a source's fields
/// is said to a caller who does not know its secret: <see cref="TryRead"/> only checks that the body is one JSON object
/// and keeps the known fields as they came; <see cref="TryValidate"/>, after the secret matched, checks each field.
/// </summary>
internal sealed class AlertBody
{
    public const int MaxTickerLength = 64;
    public const int MaxStrategyLength = 128;
    public const int MaxCommentLength = 512;
    public const int MaxIdLength = 128;
    public const int MaxSecretLength = 256;

    // Unknown properties (TradingView users add their own, e.g. "indicators") are skipped, but not at any depth.
    private const int MaxDepth = 16;

    private static readonly string[] s_known = ["secret", "ticker", "action", "price", "interval", "stop", "target", "strategy", "comment", "id", "timenow"];

    private readonly RawField[] _fields = new RawField[s_known.Length];

    private AlertBody()
    {
    }

    /// <summary>The <c>secret</c> when it is a string, else null.</summary>
    public string? Secret => _fields[0].Type == JsonTokenType.String ? _fields[0].Text : null;

    /// <summary>The first known field that came twice (ambiguous: refused), or null.</summary>
    public string? Duplicate { get; private set; }

    internal RawField this[string name] => _fields[Array.IndexOf(s_known, name)];

    /// <summary>Reads the body: false (with the reason) when it is not a single JSON object.</summary>
    public static bool TryRead(ReadOnlySpan<byte> utf8, out AlertBody? body, out string? problem)
    {
        body = new AlertBody();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                body = null;
                problem = "the body must be a JSON object, such as {\"secret\": \"…\", \"ticker\": \"{{ticker}}\", \"action\": \"buy\", \"price\": {{close}}}";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = IndexOf(ref reader);
                reader.Read();
                if (index < 0)
                {
                    reader.Skip();
                    continue;
                }

                var field = reader.TokenType switch
                {
                    JsonTokenType.String => new RawField(JsonTokenType.String, reader.GetString()),
                    JsonTokenType.Number => new RawField(JsonTokenType.Number, System.Text.Encoding.UTF8.GetString(reader.ValueSpan)),
                    _ => new RawField(reader.TokenType, null),
                };
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    reader.Skip();
                }

                if (body._fields[index].IsPresent)
                {
                    body.Duplicate ??= s_known[index];
                }

                body._fields[index] = field;
            }

            // Exactly one object: nothing may follow it (the reader fails on trailing content).
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                body = null;
                problem = "the body must be exactly one JSON object";
                return false;
            }
        }
        catch (JsonException ex)
        {
            body = null;
            problem = $"the body is not valid JSON ({Shorten(ex.Message)})";
            return false;
        }

        problem = null;
        return true;
    }

    /// <summary>
    /// The JSON reader's message, at most ~200 characters. For a misspelt literal it quotes the body up to the next
    /// delimiter ("'n[[[…' is an invalid JSON literal. Expected …"): the reply keeps the quote's start and the whole
    /// explanation, not the sender's body back.
    /// </summary>
    private static string Shorten(string message)
    {
        const int Max = 200, QuoteKept = 32;
        if (message.Length <= Max)
        {
            return message;
        }

        var explanation = message.LastIndexOf("' is ", StringComparison.Ordinal);
        if (message.StartsWith('\'') && explanation > QuoteKept && message.Length - explanation <= Max - QuoteKept)
        {
            return string.Concat(message.AsSpan(0, QuoteKept), "…", message.AsSpan(explanation));
        }

        return string.Concat(message.AsSpan(0, Max), "…");
    }

    /// <summary>Checks every field; the first problem found names its field.</summary>
    public bool TryValidate(out AlertFields? fields, out FieldProblem? problem)
    {
        fields = null;
        if (Duplicate is not null)
        {
            return Fail(Duplicate, $"'{Duplicate}' appears more than once; send each field once.", out problem);
        }

        if (!TryTicker(this["ticker"], out var ticker, out var symbol, out problem)
            || !TryAction(this["action"], out var action, out var rawAction, out problem)
            || !TryPrice("price", this["price"], required: true, out var price, out problem)
            || !TryInterval(this["interval"], out var interval, out var timeframe, out problem)
            || !TryPrice("stop", this["stop"], required: false, out var stop, out problem)
            || !TryPrice("target", this["target"], required: false, out var target, out problem)
            || !TryText("strategy", this["strategy"], MaxStrategyLength, out var strategy, out problem)
            || !TryText("comment", this["comment"], MaxCommentLength, out var comment, out problem)
            || !TryText("id", this["id"], MaxIdLength, out var id, out problem)
            || !TryFiredAt(this["timenow"], out var firedAt, out problem))
        {
            return false;
        }

        fields = new AlertFields(ticker!, symbol!, action, rawAction!, price!.Value, interval, timeframe, stop, target, strategy, comment, id, firedAt);
        return true;
    }

    /// <summary>
    /// TradingView's <c>{{interval}}</c>: minutes as a number (<c>1</c>, <c>5</c>, <c>15</c>, <c>60</c>, <c>240</c>…),
    /// <c>D</c>/<c>W</c>/<c>M</c> with an optional count (<c>1D</c>, <c>3D</c>), seconds (<c>1S</c>); a Binance name
    /// (<c>15m</c>, <c>4h</c>) is accepted too. Only lengths Binance has a candle for map.
    /// </summary>
    internal static bool TryMapInterval(string text, out Timeframe timeframe)
    {
        var name = text switch
        {
            "1" => "1m",
            "3" => "3m",
            "5" => "5m",
            "15" => "15m",
            "30" => "30m",
            "60" => "1h",
            "120" => "2h",
            "240" => "4h",
            "360" => "6h",
            "480" => "8h",
            "720" => "12h",
            "D" or "1D" => "1d",
            "3D" => "3d",
            "W" or "1W" => "1w",
            "M" or "1M" => "1M",
            "S" or "1S" => "1s",
            _ => text,
        };
        return Timeframes.TryParse(name.AsSpan(), out timeframe);
    }

    private static int IndexOf(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < s_known.Length; i++)
        {
            if (reader.ValueTextEquals(s_known[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryTicker(RawField raw, out string? ticker, out string? symbol, out FieldProblem? problem)
    {
        ticker = symbol = null;
        if (raw.Type != JsonTokenType.String || string.IsNullOrEmpty(raw.Text))
        {
            return Fail("ticker", "ticker is required: a string such as \"BINANCE:BTCUSDT\" or \"BTCUSDT\" (TradingView's {{ticker}} or {{exchange}}:{{ticker}}).", out problem);
        }

        var text = raw.Text;
        if (text.Length > MaxTickerLength)
        {
            return Fail("ticker", $"ticker is {text.Length} characters; at most {MaxTickerLength}.", out problem);
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = text;
        if (colon >= 0)
        {
            var exchange = text[..colon];
            name = text[(colon + 1)..];
            if (!string.Equals(exchange, "BINANCE", StringComparison.OrdinalIgnoreCase))
            {
                return Fail("ticker", $"ticker '{text}' is on exchange '{exchange}'; SignalStream scores alerts against Binance spot candles, so send BINANCE:SYMBOL or SYMBOL.", out problem);
            }
        }

        if (name.Length is < 2 or > 30 || !IsSymbolText(name))
        {
            return Fail("ticker", $"ticker '{text}' is not a Binance spot symbol: 2–30 letters and digits, such as BTCUSDT (perpetuals like BTCUSDT.P are not served).", out problem);
        }

        ticker = text;
        symbol = name.ToUpperInvariant();
        problem = null;
        return true;
    }

    private static bool IsSymbolText(string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryAction(RawField raw, out AlertAction action, out string? rawAction, out FieldProblem? problem)
    {
        action = default;
        rawAction = raw.Type == JsonTokenType.String && raw.Text is { Length: <= 16 } t ? t.ToLowerInvariant() : null;
        switch (rawAction)
        {
            case "buy" or "long":
                action = AlertAction.Long;
                break;
            case "sell" or "short":
                action = AlertAction.Short;
                break;
            case "exit":
                action = AlertAction.Exit;
                break;
            default:
                return Fail("action", "action must be one of \"buy\", \"sell\", \"long\", \"short\" or \"exit\" (TradingView's {{strategy.order.action}} sends buy or sell).", out problem);
        }

        problem = null;
        return true;
    }

    private static bool TryPrice(string field, RawField raw, bool required, out decimal? value, out FieldProblem? problem)
    {
        value = null;
        if (raw.IsAbsent)
        {
            problem = null;
            return !required || Fail(field, $"{field} is required: a number above 0, such as {{{{close}}}}.", out problem);
        }

        if (raw.Type is not (JsonTokenType.Number or JsonTokenType.String)
            || raw.Text is not { Length: > 0 and <= 40 } text
            || !decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var parsed))
        {
            return Fail(field, $"{field} must be a number (or a string holding one), such as 65000.5.", out problem);
        }

        if (parsed <= 0 || parsed > 1_000_000_000_000m)
        {
            return Fail(field, $"{field} is {parsed}; it must be above 0 and at most 1e12.", out problem);
        }

        value = parsed;
        problem = null;
        return true;
    }

    private static bool TryInterval(RawField raw, out string? interval, out Timeframe? timeframe, out FieldProblem? problem)
    {
        interval = null;
        timeframe = null;
        problem = null;
        if (raw.IsAbsent)
        {
            return true;
        }

        if (raw.Type is not (JsonTokenType.String or JsonTokenType.Number) || raw.Text is not { Length: > 0 and <= 8 } text)
        {
            return Fail("interval", "interval must be TradingView's {{interval}}: 1, 5, 15, 60, 240, D, …", out problem);
        }

        if (!TryMapInterval(text, out var tf))
        {
            return Fail("interval", $"interval '{text}' has no Binance candle: use 1, 3, 5, 15, 30, 60, 120, 240, 360, 480, 720, D, 3D, W or M.", out problem);
        }

        interval = text;
        timeframe = tf;
        return true;
    }

    private static bool TryText(string field, RawField raw, int maxLength, out string? value, out FieldProblem? problem)
    {
        value = null;
        problem = null;
        if (raw.IsAbsent)
        {
            return true;
        }

        if (raw.Type != JsonTokenType.String || raw.Text is null)
        {
            return Fail(field, $"{field} must be a string.", out problem);
        }

        if (raw.Text.Length > maxLength)
        {
            return Fail(field, $"{field} is {raw.Text.Length} characters; at most {maxLength}.", out problem);
        }

        foreach (var c in raw.Text)
        {
            if (char.IsControl(c))
            {
                return Fail(field, $"{field} holds a control character (U+{(int)c:X4}); send plain text.", out problem);
            }
        }

        value = raw.Text.Length == 0 ? null : raw.Text;
        return true;
    }

    /// <summary>TradingView's <c>{{timenow}}</c>: when the alert fired, ISO 8601 in UTC (<c>2026-12-06T09:56:00Z</c>).</summary>
    private static bool TryFiredAt(RawField raw, out DateTimeOffset? firedAt, out FieldProblem? problem)
    {
        firedAt = null;
        problem = null;
        if (raw.IsAbsent)
        {
            return true;
        }

        if (raw.Type != JsonTokenType.String
            || raw.Text is not { Length: > 0 and <= 40 } text
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return Fail("timenow", "timenow must be TradingView's \"{{timenow}}\" (in quotes): the alert's fire time, such as \"2026-12-06T09:56:00Z\".", out problem);
        }

        firedAt = parsed;
        return true;
    }

    private static bool Fail(string field, string detail, out FieldProblem? problem)
    {
        problem = new FieldProblem(field, detail);
        return false;
    }
}
