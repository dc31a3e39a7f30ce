using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Hand-made compact JWTs (HS256 here, RS256/ES256 in <see cref="TestIssuer"/>), including broken ones.</summary>
internal static class TestJwt
{
    public const string Key = "test-signing-key-with-at-least-32-bytes!";
    public const string Issuer = "https://issuer.test";
    public const string Audience = "signalstream";

    /// <summary>A node with HS256 tokens; <c>Auth:Mode=jwt</c> serves metrics and health on a management port of its own.</summary>
    public static string[] Settings =>
    [
        "Auth:Mode=jwt",
        $"Auth:Jwt:SigningKey={Key}",
        $"Auth:Jwt:Issuer={Issuer}",
        $"Auth:Jwt:Audience={Audience}",
        ManagementUrls(),
    ];

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary><c>Management:Urls</c> on a free loopback port.</summary>
    public static string ManagementUrls() => $"Management:Urls=http://127.0.0.1:{LoopbackPort.Free()}";

    public static string Payload(string symbols = "[\"BTCUSDT\"]", long? exp = null, string issuer = Issuer, string audience = Audience, string extra = "") =>
        Payload(symbols, (exp ?? Now + 3600).ToString(System.Globalization.CultureInfo.InvariantCulture), issuer, audience, extra);

    /// <summary>A payload whose <c>exp</c> is written as given (JSON number text such as <c>1e13</c>).</summary>
    public static string Payload(string symbols, string expJson, string issuer = Issuer, string audience = Audience, string extra = "") =>
        $"{{\"sub\":\"user-1\",\"iss\":\"{issuer}\",\"aud\":\"{audience}\",\"exp\":{expJson},\"symbols\":{symbols}{extra}}}";

    public static string Valid(string symbols = "[\"BTCUSDT\"]", long? exp = null, string extra = "") =>
        Sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", Payload(symbols, exp, extra: extra));

    public static string Sign(string header, string payload, string key = Key) => Sign(header, payload, Encoding.UTF8.GetBytes(key));

    public static string Sign(string header, string payload, byte[] key)
    {
        var signingInput = Encode(header) + "." + Encode(payload);
        var signature = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
