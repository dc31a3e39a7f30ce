using System.Text;

namespace SignalStream.Hub.Auth;

/// <summary>The <c>Auth</c> configuration section.</summary>
public sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary><c>none</c> (anyone may connect) or <c>jwt</c> (bearer access tokens, validated by JwtBearer).</summary>
    public string Mode { get; set; } = "none";

    public JwtSettings Jwt { get; set; } = new();

    public bool IsJwt => string.Equals(Mode, "jwt", StringComparison.OrdinalIgnoreCase);

    /// <summary>Where the keys that sign tokens come from: exactly one of the three settings.</summary>
    public enum KeySource
    {
        /// <summary><c>Auth:Jwt:SigningKey</c>: a shared secret (HS256).</summary>
        SharedKey,

        /// <summary><c>Auth:Jwt:Authority</c>: an OpenID Connect issuer's discovery document and its <c>jwks_uri</c>.</summary>
        Authority,

        /// <summary><c>Auth:Jwt:JwksUrl</c>: a JSON Web Key Set, without discovery.</summary>
        JwksUrl,
    }

    /// <summary>The <c>Auth:Jwt</c> section.</summary>
    public sealed class JwtSettings
    {
        public static readonly IReadOnlyList<string> SharedKeyAlgorithms = ["HS256", "HS384", "HS512"];

        public static readonly IReadOnlyList<string> PublicKeyAlgorithms =
            ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

        /// <summary>The HS256 key: UTF-8 text, or <c>base64:</c> followed by base64 bytes; at least 32 bytes.</summary>
        public string SigningKey { get; set; } = "";

        /// <summary>An OpenID Connect issuer URL; keys come from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
        public string Authority { get; set; } = "";

        /// <summary>A JSON Web Key Set URL, for issuers without a discovery document.</summary>
        public string JwksUrl { get; set; } = "";

        /// <summary>The <c>iss</c> tokens must carry; with an authority, its discovery document's issuer when empty.</summary>
        public string Issuer { get; set; } = "";

        public string Audience { get; set; } = "";

        /// <summary>Header <c>alg</c> values accepted; empty: HS256 with a shared key, RS256 and ES256 with public keys.</summary>
        public List<string> Algorithms { get; set; } = [];

        /// <summary>Tolerance for clock differences on <c>exp</c> and <c>nbf</c>.</summary>
        public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>
        /// A token is refused when less than this is left before <c>exp</c> + <see cref="ClockSkew"/>, the moment its
        /// connections are closed: a connection is never accepted only to be closed at once.
        /// </summary>
        public TimeSpan MinRemainingLifetime { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Longest token accepted, in characters.</summary>
        public int MaxTokenLength { get; set; } = 4096;

        /// <summary>Refuse an authority or JWKS URL that is not https (turn off only for a local test issuer).</summary>
        public bool RequireHttpsMetadata { get; set; } = true;

        /// <summary>Bound on one fetch of the discovery document or the key set.</summary>
        public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(10);

        public KeySource Source => !string.IsNullOrWhiteSpace(Authority) ? KeySource.Authority
            : !string.IsNullOrWhiteSpace(JwksUrl) ? KeySource.JwksUrl
            : KeySource.SharedKey;

        public IReadOnlyList<string> EffectiveAlgorithms() => Algorithms.Count > 0
            ? Algorithms
            : Source == KeySource.SharedKey ? ["HS256"] : ["RS256", "ES256"];

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

        var sources = new[] { Jwt.SigningKey, Jwt.Authority, Jwt.JwksUrl }.Count(s => !string.IsNullOrWhiteSpace(s));
        if (sources != 1)
        {
            yield return "Auth:Mode=jwt needs exactly one key source: Auth:Jwt:SigningKey (HS256 shared key), "
                + "Auth:Jwt:Authority (OpenID Connect discovery) or Auth:Jwt:JwksUrl (a JSON Web Key Set).";
        }

        foreach (var problem in ValidateKeySource())
        {
            yield return problem;
        }

        if (string.IsNullOrWhiteSpace(Jwt.Audience))
        {
            yield return "Auth:Jwt:Audience is required with Auth:Mode=jwt (tokens must name it in 'aud').";
        }

        if (string.IsNullOrWhiteSpace(Jwt.Issuer) && Jwt.Source != KeySource.Authority)
        {
            yield return "Auth:Jwt:Issuer is required with Auth:Jwt:SigningKey or Auth:Jwt:JwksUrl (tokens must name it in 'iss'); "
                + "with Auth:Jwt:Authority it defaults to the discovery document's issuer.";
        }

        var family = Jwt.Source == KeySource.SharedKey ? JwtSettings.SharedKeyAlgorithms : JwtSettings.PublicKeyAlgorithms;
        foreach (var algorithm in Jwt.Algorithms)
        {
            if (!family.Contains(algorithm, StringComparer.Ordinal))
            {
                yield return $"Auth:Jwt:Algorithms has '{algorithm}'; with this key source use only: {string.Join(", ", family)}.";
            }
        }

        if (Jwt.ClockSkew < TimeSpan.Zero || Jwt.ClockSkew > TimeSpan.FromMinutes(5))
        {
            yield return $"Auth:Jwt:ClockSkew is {Jwt.ClockSkew}; use 0 to 5 minutes.";
        }

        if (Jwt.MinRemainingLifetime < TimeSpan.Zero || Jwt.MinRemainingLifetime > TimeSpan.FromMinutes(5))
        {
            yield return $"Auth:Jwt:MinRemainingLifetime is {Jwt.MinRemainingLifetime}; use 0 to 5 minutes.";
        }

        if (Jwt.MaxTokenLength is < 256 or > 16384)
        {
            yield return $"Auth:Jwt:MaxTokenLength is {Jwt.MaxTokenLength}; use 256 to 16384 characters.";
        }

        if (Jwt.MetadataTimeout < TimeSpan.FromSeconds(1) || Jwt.MetadataTimeout > TimeSpan.FromMinutes(2))
        {
            yield return $"Auth:Jwt:MetadataTimeout is {Jwt.MetadataTimeout}; use 1 second to 2 minutes.";
        }
    }

    private IEnumerable<string> ValidateKeySource()
    {
        switch (Jwt.Source)
        {
            case KeySource.SharedKey:
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

                break;
            case KeySource.Authority:
            case KeySource.JwksUrl:
                var (key, value) = Jwt.Source == KeySource.Authority ? ("Authority", Jwt.Authority) : ("JwksUrl", Jwt.JwksUrl);
                if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
                {
                    yield return $"Auth:Jwt:{key} is '{value}'; use an absolute https URL.";
                }
                else if (uri.Scheme != Uri.UriSchemeHttps && Jwt.RequireHttpsMetadata)
                {
                    yield return $"Auth:Jwt:{key} is not https; keys fetched over plain http can be replaced on the way. "
                        + "Use https, or set Auth:Jwt:RequireHttpsMetadata=false for a local test issuer only.";
                }

                break;
        }
    }
}
