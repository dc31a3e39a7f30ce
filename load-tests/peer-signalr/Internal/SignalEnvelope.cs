using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.PeerSignalR.Internal;

/// <summary>What a message on a symbol's channel turned out to be; anything but <see cref="Signal"/> and
/// <see cref="OtherKind"/> is a rejection.</summary>
internal enum EnvelopeRead
{
    Signal,

    /// <summary>A bus message of another kind (an outcome, a candle): not relayed, not an error.</summary>
    OtherKind,

    TooLarge,
    Malformed,
    NoSignal,
    WrongSymbol,
}

/// <summary>
/// Reads SignalStream's bus envelope, <c>{"kind":"signal","signal":{…}}</c> (docs/hub.md), tolerantly: properties in
/// any order, unknown properties skipped, so a field added to the envelope does not stop the peer; the signed form is
/// read without checking its signature (the peer has no key).
/// </summary>
internal static class SignalEnvelope
{
    /// <summary>A signal is ~1 KB; anything over this is not one.</summary>
    public const int MaxBytes = 64 * 1024;

    public static EnvelopeRead Read(ReadOnlySpan<byte> payload, string symbol, out Signal? signal)
    {
        signal = null;
        if (payload.Length > MaxBytes)
        {
            return EnvelopeRead.TooLarge;
        }

        // SignalStream's signed form, ss1.{base64url signature}.{json} (docs/hub.md, Redis:BusKey), is read unverified, as
        // a node without a key reads it; base64url has no '.', so the JSON starts after the second one.
        if (payload.StartsWith("ss1."u8))
        {
            var dot = payload[4..].IndexOf((byte)'.');
            if (dot < 0)
            {
                return EnvelopeRead.Malformed;
            }

            payload = payload[(4 + dot + 1)..];
        }

        var otherKind = false;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return EnvelopeRead.Malformed;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("kind"u8))
                {
                    reader.Read();
                    otherKind = reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("signal"u8);
                }
                else if (reader.ValueTextEquals("signal"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        signal = JsonSerializer.Deserialize(ref reader, ContractsJsonContext.Default.Signal);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            signal = null;
            return EnvelopeRead.Malformed;
        }

        if (otherKind)
        {
            signal = null;
            return EnvelopeRead.OtherKind;
        }

        if (signal is null)
        {
            return EnvelopeRead.NoSignal;
        }

        if (!string.Equals(signal.Symbol, symbol, StringComparison.Ordinal))
        {
            signal = null;
            return EnvelopeRead.WrongSymbol;
        }

        return EnvelopeRead.Signal;
    }
}
