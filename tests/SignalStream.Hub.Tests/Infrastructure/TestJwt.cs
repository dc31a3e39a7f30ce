using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Hand-made compact JWTs, including broken ones for the attack tests.</summary>
internal static class TestJwt
{
    public const string Key = "test-signing-key-with-at-least-32-bytes!";
    public const string Issuer = "https://issuer.test";
    public const string Audience = "signalstream";

    public static readonly string[] Settings =
    [
        "Auth:Mode=jwt",
        $"Auth:Jwt:SigningKey={Key}",
        $"Auth:Jwt:Issuer={Issuer}",
        $"Auth:Jwt:Audience={Audience}",
    ];

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string Payload(string symbols = "[\"BTCUSDT\"]", long? exp = null, string issuer = Issuer, string audience = Audience, string extra = "") =>
        $"{{\"sub\":\"user-1\",\"iss\":\"{issuer}\",\"aud\":\"{audience}\",\"exp\":{exp ?? Now + 3600},\"symbols\":{symbols}{extra}}}";

    public static string Valid(string symbols = "[\"BTCUSDT\"]", long? exp = null, string extra = "") =>
        Sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", Payload(symbols, exp, extra: extra));

    public static string Sign(string header, string payload, string key = Key)
    {
        var signingInput = Encode(header) + "." + Encode(payload);
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
}
