using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>
/// Writes Binance's JSON with <see cref="Utf8JsonWriter"/>, field by field as web-socket-streams.md and rest-api.md
/// document them. Kept apart from the client's parser on purpose: the two must agree through the protocol only.
/// </summary>
internal static class FakeFrames
{
    /// <summary>A kline event payload (the raw stream form) with every documented field.</summary>
    public static byte[] KlinePayload(in Candle c, bool closed, long eventTime, long firstTradeId)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("e", "kline");
            w.WriteNumber("E", eventTime);
            w.WriteString("s", c.Symbol);
            w.WriteStartObject("k");
            w.WriteNumber("t", c.OpenTime);
            w.WriteNumber("T", c.CloseTime);
            w.WriteString("s", c.Symbol);
            w.WriteString("i", c.Timeframe.ToName());
            w.WriteNumber("f", c.TradeCount == 0 ? -1 : firstTradeId);
            w.WriteNumber("L", c.TradeCount == 0 ? -1 : firstTradeId + c.TradeCount - 1);
            WriteDecimal(w, "o", c.Open);
            WriteDecimal(w, "c", c.Close);
            WriteDecimal(w, "h", c.High);
            WriteDecimal(w, "l", c.Low);
            WriteDecimal(w, "v", c.Volume);
            w.WriteNumber("n", c.TradeCount);
            w.WriteBoolean("x", closed);
            WriteDecimal(w, "q", c.QuoteVolume);
            WriteDecimal(w, "V", c.TakerBuyBaseVolume);
            WriteDecimal(w, "Q", c.TakerBuyQuoteVolume);
            w.WriteString("B", "0");
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] ServerShutdownPayload(long eventTime)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("e", "serverShutdown");
            w.WriteNumber("E", eventTime);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The combined-stream wrapper <c>{"stream":…,"data":…}</c> around a raw payload.</summary>
    public static byte[] Combined(string stream, byte[] payload)
    {
        var buffer = new ArrayBufferWriter<byte>(payload.Length + stream.Length + 32);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("stream", stream);
            w.WritePropertyName("data");
            w.WriteRawValue(payload, skipInputValidation: true);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>REST <c>GET /api/v3/klines</c>: an array of 12-element arrays.</summary>
    public static byte[] KlinesArray(IEnumerable<Candle> candles)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var c in candles)
            {
                w.WriteStartArray();
                w.WriteNumberValue(c.OpenTime);
                WriteDecimalValue(w, c.Open);
                WriteDecimalValue(w, c.High);
                WriteDecimalValue(w, c.Low);
                WriteDecimalValue(w, c.Close);
                WriteDecimalValue(w, c.Volume);
                w.WriteNumberValue(c.CloseTime);
                WriteDecimalValue(w, c.QuoteVolume);
                w.WriteNumberValue(c.TradeCount);
                WriteDecimalValue(w, c.TakerBuyBaseVolume);
                WriteDecimalValue(w, c.TakerBuyQuoteVolume);
                w.WriteStringValue("0");
                w.WriteEndArray();
            }

            w.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Reply(string? id, Action<Utf8JsonWriter> writeResult)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WritePropertyName("result");
            writeResult(w);
            WriteId(w, id);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Error(int code, string message, string? id, bool includeId)
    {
        var buffer = new ArrayBufferWriter<byte>(128);

        // Binance's messages quote method names in backticks, sent as is (the default encoder would write \u0060).
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("code", code);
            w.WriteString("msg", message);
            if (includeId)
            {
                WriteId(w, id);
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Malformed messages of several kinds, chosen by <paramref name="variant"/>.</summary>
    public static byte[] Malformed(int variant, byte[] valid) => (variant % 4) switch
    {
        0 => valid.AsSpan(0, valid.Length / 2).ToArray(),
        1 => Encoding.UTF8.GetBytes("{\"stream\":\"x\",\"data\":{\"e\":\"kline\",,}}"),
        2 => Encoding.UTF8.GetBytes("not json at all"),
        _ => Encoding.UTF8.GetBytes("{\"stream\":\"unknownusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":1,\"s\":\"UNKNOWNUSDT\",\"k\":{}}}"),
    };

    // id: a 64-bit integer, an alphanumeric string, or null — echoed as the client sent it.
    private static void WriteId(Utf8JsonWriter w, string? id)
    {
        w.WritePropertyName("id");
        if (id is null)
        {
            w.WriteNullValue();
        }
        else if (long.TryParse(id, out var n))
        {
            w.WriteNumberValue(n);
        }
        else
        {
            w.WriteStringValue(id);
        }
    }

    private static void WriteDecimal(Utf8JsonWriter w, string name, decimal value)
    {
        w.WritePropertyName(name);
        WriteDecimalValue(w, value);
    }

    // Binance formats prices and quantities with a fixed 8 decimals, as strings.
    private static void WriteDecimalValue(Utf8JsonWriter w, decimal value)
    {
        Span<byte> text = stackalloc byte[64];
        Utf8Formatter.TryFormat(value, text, out var written, new StandardFormat('F', 8));
        w.WriteStringValue(text[..written]);
    }
}
