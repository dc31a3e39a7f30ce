using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace SignalStream.Hub.FanOut.Redis;

/// <summary>
/// Signs and checks bus messages: a signed message is <c>ss1.{base64url HMAC-SHA256(key, json)}.{json}</c> (48 bytes
/// before the JSON); an unsigned one is the JSON alone.
/// </summary>
/// <remarks>
/// The MAC covers the JSON, whose symbol must match the channel's, so a captured message cannot be moved to another
/// symbol. It does not stop a replay on the same channel: seq makes a replayed signal a duplicate, which is dropped,
/// but a replayed outcome or candle would be shown again. The Redis ACL (only the engine may publish) closes that.
/// </remarks>
internal sealed class BusSigner
{
    private const int MacBytes = 32;
    private const int MacText = 43; // base64url of 32 bytes, unpadded
    private static readonly byte[] s_prefix = "ss1."u8.ToArray();

    /// <summary>Bytes before the JSON of a signed message.</summary>
    public const int Overhead = 4 + MacText + 1;

    private readonly byte[]? _key;
    private readonly byte[]? _previousKey;

    public BusSigner(string? key, string? previousKey)
    {
        _key = string.IsNullOrEmpty(key) ? null : Encoding.UTF8.GetBytes(key);
        _previousKey = string.IsNullOrEmpty(previousKey) ? null : Encoding.UTF8.GetBytes(previousKey);
    }

    public bool Signs => _key is not null;

    /// <summary>The message to publish: <paramref name="json"/> itself without a key, else a new signed array.</summary>
    public byte[] Sign(byte[] json)
    {
        if (_key is null)
        {
            return json;
        }

        var message = new byte[Overhead + json.Length];
        s_prefix.CopyTo(message, 0);
        Span<byte> mac = stackalloc byte[MacBytes];
        HMACSHA256.HashData(_key, json, mac);
        Base64Url.EncodeToUtf8(mac, message.AsSpan(s_prefix.Length, MacText));
        message[Overhead - 1] = (byte)'.';
        json.CopyTo(message, Overhead);
        return message;
    }

    /// <summary>The JSON of a received message, or why it is refused (<c>unsigned</c>, <c>bad_signature</c>).</summary>
    public bool TryOpen(ReadOnlyMemory<byte> message, out ReadOnlyMemory<byte> json, out string? refusal)
    {
        var span = message.Span;
        var signed = span.Length >= Overhead && span.StartsWith(s_prefix) && span[Overhead - 1] == (byte)'.';
        json = signed ? message[Overhead..] : message;
        refusal = null;
        if (_key is null)
        {
            return true; // this node checks nothing; a signed message is read as well, so keys can be rolled out engine first
        }

        if (!signed)
        {
            refusal = "unsigned";
            return false;
        }

        Span<byte> claimed = stackalloc byte[MacBytes];
        if (Base64Url.DecodeFromUtf8(span.Slice(s_prefix.Length, MacText), claimed, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != MacBytes
            || !(Matches(_key, json.Span, claimed) || (_previousKey is not null && Matches(_previousKey, json.Span, claimed))))
        {
            refusal = "bad_signature";
            return false;
        }

        return true;
    }

    private static bool Matches(byte[] key, ReadOnlySpan<byte> json, ReadOnlySpan<byte> claimed)
    {
        Span<byte> mac = stackalloc byte[MacBytes];
        HMACSHA256.HashData(key, json, mac);
        return CryptographicOperations.FixedTimeEquals(mac, claimed);
    }
}
