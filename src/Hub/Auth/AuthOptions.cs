using System.Text;

namespace SignalStream.Hub.Auth;

/// <summary>The <c>Auth</c> configuration section.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary><c>none</c> (anyone may connect) or <c>jwt</c> (HS256 access tokens).</summary>
    public string Mode { get; set; } = "none";

    public JwtSettings Jwt { get; set; } = new();

    public bool IsJwt => string.Equals(Mode, "jwt", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>Auth:Jwt</c> section.</summary>
    public sealed class JwtSettings
    {
        /// <summary>The HS256 key: UTF-8 text, or <c>base64:</c> followed by base64 bytes; at least 32 bytes.</summary>
        public string SigningKey { get; set; } = "";

        public string Issuer { get; set; } = "";

        public string Audience { get; set; } = "";

        /// <summary>Tolerance for clock differences on <c>exp</c> and <c>nbf</c>.</summary>
        public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Longest token accepted, in characters.</summary>
        public int MaxTokenLength { get; set; } = 4096;

        public byte[] KeyBytes() => SigningKey.StartsWith("base64:", StringComparison.Ordinal)
            ? Convert.FromBase64String(SigningKey["base64:".Length..])
            : Encoding.UTF8.GetBytes(SigningKey);
    }

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (!IsJwt && !string.Equals(Mode, "none", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"Auth:Mode is '{Mode}'; use 'none' or 'jwt'.";
            yield break;
        }

        if (!IsJwt)
        {
            yield break;
        }

        int keyLength;
        try
        {
            keyLength = Jwt.KeyBytes().Length;
        }
        catch (FormatException)
        {
            keyLength = -1;
        }

        if (keyLength < 32)
        {
            yield return "Auth:Jwt:SigningKey must be at least 32 bytes (256 bits) for HS256: UTF-8 text, or 'base64:' followed by base64.";
        }

        if (string.IsNullOrWhiteSpace(Jwt.Issuer) || string.IsNullOrWhiteSpace(Jwt.Audience))
        {
            yield return "Auth:Jwt:Issuer and Auth:Jwt:Audience are required with Auth:Mode=jwt (tokens must name both).";
        }

        if (Jwt.ClockSkew < TimeSpan.Zero || Jwt.ClockSkew > TimeSpan.FromMinutes(5))
        {
            yield return $"Auth:Jwt:ClockSkew is {Jwt.ClockSkew}; use 0 to 5 minutes.";
        }

        if (Jwt.MaxTokenLength is < 256 or > 16384)
        {
            yield return $"Auth:Jwt:MaxTokenLength is {Jwt.MaxTokenLength}; use 256 to 16384 characters.";
        }
    }
}
