using System.Buffers.Text;
using System.Text.Json;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>What a received WebSocket message turned out to be.</summary>
internal enum FrameKind : byte
{
    /// <summary>A kline update of a configured stream.</summary>
    Kline,

    /// <summary>The <c>serverShutdown</c> event: reconnect now.</summary>
    ServerShutdown,

    /// <summary>A reply to SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS (<c>{"result":…,"id":…}</c>).</summary>
    Reply,

    /// <summary>An error reply (<c>{"code":…,"msg":…,"id":…}</c>).</summary>
    ErrorReply,

    /// <summary>Unusable: see <see cref="FrameRejection"/>.</summary>
    Rejected,
}

/// <summary>Why a frame was rejected; also the <c>reason</c> label of <c>signalstream_ingest_frames_rejected_total</c>.</summary>
internal enum FrameRejection : byte
{
    None,
    MalformedJson,
    UnexpectedShape,
    MissingField,
    BadValue,
    UnknownSymbol,
    UnknownInterval,
    StreamMismatch,
    Inconsistent,
    UnexpectedEvent,
    UnknownStream,

    /// <summary>A message longer than <c>Ingest:Binance:MaxMessageBytes</c>; the connection is replaced.</summary>
    TooLarge,
}

/// <summary>The parsed content of one message; a value type so parsing allocates nothing.</summary>
internal struct ParsedFrame
{
    public FrameKind Kind;
    public FrameRejection Rejection;
    public Candle Candle;
    public SymbolEntry? Symbol;
    public bool IsClosed;
    public long EventTime;

    /// <summary>The request id of a reply, or -1 when it was absent, null or not a number.</summary>
    public long ReplyId;

    public int ErrorCode;
}

/// <summary>
/// Parses Binance combined-stream messages (<c>{"stream":…,"data":…}</c>) with <see cref="Utf8JsonReader"/> straight
/// from the received bytes. Allocation-free: property names are matched as UTF-8 literals, symbols are interned through
/// <see cref="SymbolTable"/>, numbers and decimal strings are parsed in place with <see cref="Utf8Parser"/> (which is
/// culture-invariant by construction).
/// </summary>
internal static class KlineFrameParser
{
    private static readonly JsonReaderOptions s_options = new() { MaxDepth = 16 };

    [Flags]
    private enum KlineFields
    {
        None = 0,
        OpenTime = 1 << 0,
        CloseTime = 1 << 1,
        Symbol = 1 << 2,
        Interval = 1 << 3,
        Open = 1 << 4,
        Close = 1 << 5,
        High = 1 << 6,
        Low = 1 << 7,
        Volume = 1 << 8,
        Trades = 1 << 9,
        IsClosed = 1 << 10,
        QuoteVolume = 1 << 11,
        TakerBase = 1 << 12,
        TakerQuote = 1 << 13,
        All = (1 << 14) - 1,
    }

    private enum EventType : byte
    {
        Missing,
        Kline,
        ServerShutdown,
        Other,
    }

    /// <summary>Parses one complete message. Never throws for bad input.</summary>
    public static FrameKind Parse(ReadOnlySpan<byte> utf8, SymbolTable symbols, out ParsedFrame frame)
    {
        frame = default;
        try
        {
            var reader = new Utf8JsonReader(utf8, s_options);
            frame.Kind = ParseTopLevel(ref reader, utf8, symbols, ref frame);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Utf8JsonReader reports malformed JSON only by throwing, and comparing a property name whose escapes make no
            // valid text (a lone "\ud800") throws InvalidOperationException; both are expected here and become a result.
            frame.Kind = FrameKind.Rejected;
            frame.Rejection = FrameRejection.MalformedJson;
        }

        if (frame.Kind == FrameKind.Rejected)
        {
            frame.Candle = default;
            frame.Symbol = null;
        }

        return frame.Kind;
    }

    private static FrameKind ParseTopLevel(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, SymbolTable symbols, ref ParsedFrame frame)
    {
        if (!Next(ref reader, utf8) || reader.TokenType != JsonTokenType.StartObject)
        {
            return Reject(ref frame, FrameRejection.UnexpectedShape);
        }

        int streamStart = -1, streamLength = 0;
        bool hasData = false, hasResult = false, hasCode = false;
        var eventType = EventType.Missing;
        var dataRejection = FrameRejection.None;
        frame.ReplyId = -1;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("stream"u8))
            {
                Next(ref reader, utf8);
                if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
                {
                    return Reject(ref frame, FrameRejection.BadValue);
                }

                streamStart = (int)reader.TokenStartIndex + 1;
                streamLength = reader.ValueSpan.Length;
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                Next(ref reader, utf8);
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return Reject(ref frame, FrameRejection.UnexpectedShape);
                }

                hasData = true;
                dataRejection = ParseData(ref reader, utf8, symbols, ref frame, out eventType);
            }
            else if (reader.ValueTextEquals("result"u8))
            {
                hasResult = true;
                Next(ref reader, utf8);
                SkipValue(ref reader, utf8);
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                Next(ref reader, utf8);
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var id))
                {
                    frame.ReplyId = id;
                }
                else
                {
                    SkipValue(ref reader, utf8);
                }
            }
            else if (reader.ValueTextEquals("code"u8))
            {
                hasCode = true;
                Next(ref reader, utf8);
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var code))
                {
                    frame.ErrorCode = code;
                }
                else
                {
                    SkipValue(ref reader, utf8);
                }
            }
            else
            {
                // Unknown top-level members (including "msg") are ignored: Binance may add fields.
                Next(ref reader, utf8);
                SkipValue(ref reader, utf8);
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return Reject(ref frame, FrameRejection.UnexpectedShape);
        }

        // Anything after the object is malformed; the reader throws for a second top-level value.
        while (Next(ref reader, utf8))
        {
        }

        if (!hasData)
        {
            if (hasCode)
            {
                return FrameKind.ErrorReply;
            }

            return hasResult ? FrameKind.Reply : Reject(ref frame, FrameRejection.UnexpectedShape);
        }

        if (eventType == EventType.ServerShutdown)
        {
            return FrameKind.ServerShutdown;
        }

        if (dataRejection != FrameRejection.None)
        {
            return Reject(ref frame, dataRejection);
        }

        if (eventType != EventType.Kline)
        {
            return Reject(ref frame, eventType == EventType.Missing ? FrameRejection.MissingField : FrameRejection.UnexpectedEvent);
        }

        if (streamStart < 0)
        {
            return Reject(ref frame, FrameRejection.MissingField);
        }

        return StreamNameMatches(utf8.Slice(streamStart, streamLength), frame.Candle.Symbol, frame.Candle.Timeframe)
            ? FrameKind.Kline
            : Reject(ref frame, FrameRejection.StreamMismatch);
    }

    private static FrameRejection ParseData(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, SymbolTable symbols, ref ParsedFrame frame, out EventType eventType)
    {
        eventType = EventType.Missing;
        var rejection = FrameRejection.None;
        var hasEventTime = false;
        SymbolEntry? outerSymbol = null;
        var outerSymbolPresent = false;
        var kline = KlineFields.None;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueIsEscaped ? default : reader.ValueSpan;
            Next(ref reader, utf8);
            if (name.Length != 1)
            {
                SkipValue(ref reader, utf8);
                continue;
            }

            switch (name[0])
            {
                case (byte)'e':
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        rejection = First(rejection, FrameRejection.BadValue);
                    }
                    else if (reader.ValueTextEquals("kline"u8))
                    {
                        eventType = EventType.Kline;
                    }
                    else if (reader.ValueTextEquals("serverShutdown"u8))
                    {
                        eventType = EventType.ServerShutdown;
                    }
                    else
                    {
                        eventType = EventType.Other;
                    }

                    break;
                case (byte)'E':
                    // Bounded like a candle's times, so no clock built from it can overflow calendar arithmetic.
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out frame.EventTime)
                        && frame.EventTime is >= 0 and < LatestPlausibleTimeMs)
                    {
                        hasEventTime = true;
                    }
                    else
                    {
                        rejection = First(rejection, FrameRejection.BadValue);
                    }

                    break;
                case (byte)'s':
                    outerSymbolPresent = true;
                    if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !symbols.TryGet(reader.ValueSpan, out outerSymbol))
                    {
                        rejection = First(rejection, FrameRejection.UnknownSymbol);
                    }

                    break;
                case (byte)'k':
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        rejection = First(rejection, FrameRejection.UnexpectedShape);
                        SkipValue(ref reader, utf8);
                    }
                    else
                    {
                        rejection = First(rejection, ParseKline(ref reader, utf8, symbols, ref frame, out kline));
                    }

                    break;
                default:
                    SkipValue(ref reader, utf8);
                    break;
            }
        }

        if (eventType != EventType.Kline || rejection != FrameRejection.None)
        {
            return rejection;
        }

        if (!hasEventTime || !outerSymbolPresent || kline != KlineFields.All)
        {
            return FrameRejection.MissingField;
        }

        if (!ReferenceEquals(outerSymbol, frame.Symbol))
        {
            return FrameRejection.Inconsistent;
        }

        return IsConsistent(in frame.Candle) ? FrameRejection.None : FrameRejection.Inconsistent;
    }

    private static FrameRejection ParseKline(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, SymbolTable symbols, ref ParsedFrame frame, out KlineFields seen)
    {
        seen = KlineFields.None;
        long openTime = 0, closeTime = 0, trades = 0;
        decimal open = 0, close = 0, high = 0, low = 0, volume = 0, quoteVolume = 0, takerBase = 0, takerQuote = 0;
        var timeframe = default(Timeframe);
        SymbolEntry? symbol = null;
        var rejection = FrameRejection.None;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.ValueIsEscaped ? default : reader.ValueSpan;
            Next(ref reader, utf8);
            if (name.Length != 1)
            {
                SkipValue(ref reader, utf8);
                continue;
            }

            var ok = true;
            switch (name[0])
            {
                case (byte)'t': ok = ReadInt64(ref reader, utf8, ref openTime, ref seen, KlineFields.OpenTime); break;
                case (byte)'T': ok = ReadInt64(ref reader, utf8, ref closeTime, ref seen, KlineFields.CloseTime); break;
                case (byte)'n': ok = ReadInt64(ref reader, utf8, ref trades, ref seen, KlineFields.Trades); break;
                case (byte)'o': ok = ReadDecimal(ref reader, utf8, ref open, ref seen, KlineFields.Open); break;
                case (byte)'c': ok = ReadDecimal(ref reader, utf8, ref close, ref seen, KlineFields.Close); break;
                case (byte)'h': ok = ReadDecimal(ref reader, utf8, ref high, ref seen, KlineFields.High); break;
                case (byte)'l': ok = ReadDecimal(ref reader, utf8, ref low, ref seen, KlineFields.Low); break;
                case (byte)'v': ok = ReadDecimal(ref reader, utf8, ref volume, ref seen, KlineFields.Volume); break;
                case (byte)'q': ok = ReadDecimal(ref reader, utf8, ref quoteVolume, ref seen, KlineFields.QuoteVolume); break;
                case (byte)'V': ok = ReadDecimal(ref reader, utf8, ref takerBase, ref seen, KlineFields.TakerBase); break;
                case (byte)'Q': ok = ReadDecimal(ref reader, utf8, ref takerQuote, ref seen, KlineFields.TakerQuote); break;
                case (byte)'x':
                    if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                    {
                        frame.IsClosed = reader.TokenType == JsonTokenType.True;
                        seen |= KlineFields.IsClosed;
                    }
                    else
                    {
                        ok = false;
                    }

                    break;
                case (byte)'i':
                    if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !Timeframes.TryParse(reader.ValueSpan, out timeframe))
                    {
                        rejection = First(rejection, FrameRejection.UnknownInterval);
                    }
                    else
                    {
                        seen |= KlineFields.Interval;
                    }

                    break;
                case (byte)'s':
                    if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !symbols.TryGet(reader.ValueSpan, out symbol))
                    {
                        rejection = First(rejection, FrameRejection.UnknownSymbol);
                    }
                    else
                    {
                        seen |= KlineFields.Symbol;
                    }

                    break;
                default:
                    // f, L (trade ids), B (ignore) and anything Binance adds later.
                    SkipValue(ref reader, utf8);
                    break;
            }

            if (!ok)
            {
                rejection = First(rejection, FrameRejection.BadValue);
            }
        }

        if (rejection != FrameRejection.None || symbol is null || (seen & KlineFields.Interval) == 0)
        {
            return rejection;
        }

        frame.Symbol = symbol;
        frame.Candle = new Candle(symbol.Symbol, timeframe, openTime, closeTime, open, high, low, close, volume,
            quoteVolume, trades, takerBase, takerQuote);
        return FrameRejection.None;
    }

    // Year 3000: keeps calendar arithmetic (months) far from DateTimeOffset's range limits for hostile input.
    private const long LatestPlausibleTimeMs = 32_503_680_000_000;

    /// <summary>Checks the invariants every real kline satisfies; a frame that breaks one is not trusted.</summary>
    internal static bool IsConsistent(in Candle c) =>
        c.OpenTime >= 0
        && c.OpenTime < LatestPlausibleTimeMs
        && c.Timeframe.IsAlignedOpenTime(c.OpenTime)
        && c.CloseTime == c.Timeframe.CloseTimeOf(c.OpenTime)
        && c.Low >= 0
        && c.Low <= c.Open && c.Low <= c.Close
        && c.High >= c.Open && c.High >= c.Close
        && c.Volume >= 0 && c.QuoteVolume >= 0 && c.TradeCount >= 0
        && c.TakerBuyBaseVolume >= 0 && c.TakerBuyBaseVolume <= c.Volume
        && c.TakerBuyQuoteVolume >= 0 && c.TakerBuyQuoteVolume <= c.QuoteVolume;

    /// <summary>Whether a stream name is <c>&lt;lower-case symbol&gt;@kline_&lt;interval&gt;</c> for this candle.</summary>
    private static bool StreamNameMatches(ReadOnlySpan<byte> stream, string symbol, Timeframe timeframe)
    {
        var interval = timeframe.ToName();
        if (stream.Length != symbol.Length + "@kline_".Length + interval.Length)
        {
            return false;
        }

        for (var i = 0; i < symbol.Length; i++)
        {
            var expected = symbol[i] is >= 'A' and <= 'Z' ? (byte)(symbol[i] + 32) : (byte)symbol[i];
            if (stream[i] != expected)
            {
                return false;
            }
        }

        if (!stream.Slice(symbol.Length, 7).SequenceEqual("@kline_"u8))
        {
            return false;
        }

        var tail = stream[(symbol.Length + 7)..];
        for (var i = 0; i < interval.Length; i++)
        {
            if (tail[i] != interval[i])
            {
                return false;
            }
        }

        return true;
    }

    private static bool ReadInt64(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, ref long value, ref KlineFields seen, KlineFields field)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out value))
        {
            SkipValue(ref reader, utf8);
            return false;
        }

        seen |= field;
        return true;
    }

    private static bool ReadDecimal(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, ref decimal value, ref KlineFields seen, KlineFields field)
    {
        // Binance sends prices and quantities as JSON strings of plain decimal digits ("0.01634790").
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
        {
            SkipValue(ref reader, utf8);
            return false;
        }

        var span = reader.ValueSpan;
        if (span.Length == 0 || !IsPlainDecimal(span) || !Utf8Parser.TryParse(span, out value, out var consumed) || consumed != span.Length)
        {
            return false;
        }

        seen |= field;
        return true;
    }

    // Utf8Parser also accepts exponents and signs; Binance never sends them, so a value that has them is not trusted.
    private static bool IsPlainDecimal(ReadOnlySpan<byte> span)
    {
        var dots = 0;
        foreach (var b in span)
        {
            if (b == (byte)'.')
            {
                dots++;
            }
            else if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }
        }

        return dots <= 1 && span[0] != (byte)'.' && span[^1] != (byte)'.';
    }

    /// <summary>
    /// <see cref="Utf8JsonReader.Read"/>, after checking that a <c>true</c>, <c>false</c> or <c>null</c> about to be read
    /// is spelled out. The reader's own error for a misspelt literal quotes the input up to the next delimiter, so a
    /// megabyte after an <c>n</c> would cost megabytes of message; this one costs the same for any input. Used wherever a
    /// value can follow; where a property name must (the loops over an object's members), the reader's error for a
    /// letter quotes only that letter.
    /// </summary>
    private static bool Next(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8)
    {
        // Most values start at a quote; only what could begin a literal is looked at further.
        var at = (int)reader.BytesConsumed;
        if (at < utf8.Length && utf8[at] != (byte)'"')
        {
            ThrowIfMisspeltLiteral(utf8, at);
        }

        return reader.Read();
    }

    private static void ThrowIfMisspeltLiteral(ReadOnlySpan<byte> utf8, int at)
    {
        while (at < utf8.Length && utf8[at] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)',' or (byte)':')
        {
            at++;
        }

        if (at < utf8.Length && utf8[at] is (byte)'t' or (byte)'f' or (byte)'n')
        {
            var rest = utf8[at..];
            if (!(rest.StartsWith("true"u8) || rest.StartsWith("false"u8) || rest.StartsWith("null"u8)))
            {
                throw new JsonException("A JSON literal is misspelt.");
            }
        }
    }

    /// <summary><see cref="Utf8JsonReader.Skip"/> through <see cref="Next"/>: skips the current value and its children.</summary>
    private static void SkipValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8)
    {
        if (reader.TokenType == JsonTokenType.PropertyName)
        {
            Next(ref reader, utf8);
        }

        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            var depth = reader.CurrentDepth;
            while (Next(ref reader, utf8) && reader.CurrentDepth > depth)
            {
            }
        }
    }

    private static FrameKind Reject(ref ParsedFrame frame, FrameRejection reason)
    {
        frame.Rejection = reason;
        return FrameKind.Rejected;
    }

    private static FrameRejection First(FrameRejection current, FrameRejection next) =>
        current == FrameRejection.None ? next : current;
}
