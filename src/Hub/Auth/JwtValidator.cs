using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SignalStream.Hub.Auth;

/// <summary>Why a token was rejected; <see cref="JwtValidator.ReasonName"/> gives the metric label.</summary>
internal enum JwtFailure : byte
{
    None,
    TooLarge,
    Malformed,
    BadAlgorithm,
    BadSignature,
    Expired,
    NotYetValid,
    BadIssuer,
    BadAudience,
}

/// <summary>The claims of a valid token that the hub uses.</summary>
internal sealed record JwtClaims(string? Subject, long ExpiresAt, IReadOnlyList<string> Symbols, int? MaxSubscriptions);

/// <summary>A validation outcome: claims, or a failure with a message the caller can act on (never containing the token).</summary>
internal readonly record struct JwtValidationResult(JwtFailure Failure, string? Message, JwtClaims? Claims)
{
    public bool IsValid => Failure == JwtFailure.None;

    public static JwtValidationResult Fail(JwtFailure failure, string message) => new(failure, message, null);
}

/// <summary>
/// Validates compact HS256 JWTs (RFC 7519/7515) — the small replacement for the JwtBearer package, which is not
/// available here.
/// </summary>
/// <remarks>
/// The header must say exactly <c>"alg":"HS256"</c> (so <c>none</c>, RS256/HS256 key confusion and friends are rejected
/// before any key is used) and may not carry <c>crit</c>. The signature is compared in constant time before the payload
/// is even parsed. <c>exp</c> is required; <c>exp</c>/<c>nbf</c> allow <c>Auth:Jwt:ClockSkew</c>; <c>iss</c> must match
/// and <c>aud</c> (a string or an array) must contain the configured audience.
/// </remarks>
internal sealed class JwtValidator(AuthOptions.JwtSettings settings, TimeProvider time)
{
    private readonly byte[] _key = settings.KeyBytes();

    public static string ReasonName(JwtFailure failure) => failure switch
    {
        JwtFailure.TooLarge => "too_large",
        JwtFailure.Malformed => "malformed",
        JwtFailure.BadAlgorithm => "bad_algorithm",
        JwtFailure.BadSignature => "bad_signature",
        JwtFailure.Expired => "expired",
        JwtFailure.NotYetValid => "not_yet_valid",
        JwtFailure.BadIssuer => "bad_issuer",
        JwtFailure.BadAudience => "bad_audience",
        _ => "none",
    };

    public JwtValidationResult Validate(string token)
    {
        if (token.Length > settings.MaxTokenLength)
        {
            return JwtValidationResult.Fail(JwtFailure.TooLarge, $"The access token is {token.Length} characters; at most {settings.MaxTokenLength} are accepted.");
        }

        var firstDot = token.IndexOf('.');
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot <= firstDot + 1 || secondDot == token.Length - 1 || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return JwtValidationResult.Fail(JwtFailure.Malformed, "The access token is not a compact JWT (three base64url parts separated by dots).");
        }

        var header = TryDecode(token.AsSpan(0, firstDot));
        if (header is null || !TryReadHeader(header, out var algorithm, out var critical))
        {
            return JwtValidationResult.Fail(JwtFailure.Malformed, "The access token's header is not base64url-encoded JSON.");
        }

        if (algorithm != "HS256" || critical)
        {
            return JwtValidationResult.Fail(JwtFailure.BadAlgorithm,
                critical ? "The access token has a 'crit' header, which is not supported." : "The access token must be signed with HS256.");
        }

        var signature = TryDecode(token.AsSpan(secondDot + 1));
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(token, 0, secondDot), expected);
        if (signature is null || !CryptographicOperations.FixedTimeEquals(signature, expected))
        {
            return JwtValidationResult.Fail(JwtFailure.BadSignature, "The access token's signature is not valid.");
        }

        var payload = TryDecode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1));
        if (payload is null || !TryReadPayload(payload, out var claims, out var exp, out var nbf, out var iss, out var audiences))
        {
            return JwtValidationResult.Fail(JwtFailure.Malformed, "The access token's payload is not valid JSON claims (exp is required, as a number).");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var skew = (long)settings.ClockSkew.TotalMilliseconds;
        if (exp * 1000 + skew <= now)
        {
            return JwtValidationResult.Fail(JwtFailure.Expired, "The access token has expired; get a new one.");
        }

        if (nbf is long notBefore && notBefore * 1000 - skew > now)
        {
            return JwtValidationResult.Fail(JwtFailure.NotYetValid, "The access token is not valid yet (nbf is in the future).");
        }

        if (!string.Equals(iss, settings.Issuer, StringComparison.Ordinal))
        {
            return JwtValidationResult.Fail(JwtFailure.BadIssuer, "The access token was issued by an issuer this server does not trust.");
        }

        if (!audiences.Contains(settings.Audience))
        {
            return JwtValidationResult.Fail(JwtFailure.BadAudience, "The access token is for a different audience.");
        }

        return new JwtValidationResult(JwtFailure.None, null, claims);
    }

    private static byte[]? TryDecode(ReadOnlySpan<char> part)
    {
        var buffer = new byte[Base64Url.GetMaxDecodedLength(part.Length)];
        // The OperationStatus overload reports invalid characters instead of throwing.
        return Base64Url.DecodeFromChars(part, buffer, out var consumed, out var written) == System.Buffers.OperationStatus.Done
            && consumed == part.Length
            ? buffer[..written]
            : null;
    }

    private static bool TryReadHeader(byte[] json, out string? algorithm, out bool critical)
    {
        algorithm = null;
        critical = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isAlg = reader.ValueTextEquals("alg"u8);
                critical |= reader.ValueTextEquals("crit"u8);
                reader.Read();
                if (isAlg)
                {
                    algorithm = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else
                {
                    reader.Skip();
                }
            }

            return reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool TryReadPayload(
        byte[] json, out JwtClaims? claims, out long exp, out long? nbf, out string? iss, out List<string> audiences)
    {
        claims = null;
        exp = 0;
        nbf = null;
        iss = null;
        audiences = [];
        string? subject = null;
        var symbols = new List<string>();
        int? maxSubscriptions = null;
        var hasExp = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "exp" when reader.TokenType == JsonTokenType.Number:
                        hasExp = reader.TryGetInt64(out exp) || TryTruncate(ref reader, out exp);
                        break;
                    case "nbf" when reader.TokenType == JsonTokenType.Number:
                        nbf = reader.TryGetInt64(out var n) ? n : (long)reader.GetDouble();
                        break;
                    case "iss" when reader.TokenType == JsonTokenType.String:
                        iss = reader.GetString();
                        break;
                    case "sub" when reader.TokenType == JsonTokenType.String:
                        subject = reader.GetString();
                        break;
                    case "aud":
                        ReadStrings(ref reader, audiences);
                        break;
                    case Entitlements.SymbolsClaim:
                        ReadStrings(ref reader, symbols);
                        break;
                    case Entitlements.MaxSubscriptionsClaim when reader.TokenType == JsonTokenType.Number:
                        maxSubscriptions = reader.TryGetInt32(out var max) && max >= 0 ? max : null;
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || !hasExp)
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }

        claims = new JwtClaims(subject, exp, symbols, maxSubscriptions);
        return true;
    }

    private static bool TryTruncate(ref Utf8JsonReader reader, out long value)
    {
        var d = reader.GetDouble();
        value = double.IsFinite(d) && Math.Abs(d) < 1e15 ? (long)d : 0;
        return value != 0;
    }

    private static void ReadStrings(ref Utf8JsonReader reader, List<string> into)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            into.Add(reader.GetString()!);
            return;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                into.Add(reader.GetString()!);
            }
            else
            {
                reader.Skip();
            }
        }
    }
}
