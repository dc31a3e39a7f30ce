using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// The <c>X-SignalStream-Signature</c> header, in the shape Stripe made familiar:
/// <c>t=&lt;unix seconds&gt;,v1=&lt;lowercase hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;raw body&gt;")&gt;</c>. The timestamp is
/// the attempt's own, so a receiver can refuse replays older than its tolerance window (docs/notifications.md).
/// </summary>
internal static class WebhookSignature
{
    public const string SignatureHeader = "X-SignalStream-Signature";
    public const string DeliveryHeader = "X-SignalStream-Delivery";

    /// <summary>The header value for <paramref name="body"/> signed at <paramref name="unixSeconds"/>.</summary>
    public static string Create(byte[] key, long unixSeconds, ReadOnlySpan<byte> body)
    {
        Span<byte> prefix = stackalloc byte[24];
        unixSeconds.TryFormat(prefix, out var written, default, CultureInfo.InvariantCulture);
        prefix[written++] = (byte)'.';

        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(prefix[..written]);
        hmac.AppendData(body);
        Span<byte> mac = stackalloc byte[32];
        hmac.GetHashAndReset(mac);
        return string.Create(CultureInfo.InvariantCulture, $"t={unixSeconds},v1={Convert.ToHexStringLower(mac)}");
    }

    /// <summary>The signing key: the secret's UTF-8 bytes.</summary>
    public static byte[] Key(string secret) => Encoding.UTF8.GetBytes(secret);
}
