using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SignalStream.Hub.Auth.Internal;

namespace SignalStream.Hub.Auth;

/// <summary>
/// <c>Auth:Mode=jwt</c> on ASP.NET Core's JwtBearer handler: HS256 with a shared key, or RS256/ES256 (and the other
/// RSA/EC algorithms when listed) with keys from an OpenID Connect authority or a JWKS URL. docs/hub.md, "Auth".
/// </summary>
internal static class JwtAuthentication
{
    public const string SchemeName = "SignalStreamJwt";

    /// <summary>Registers the scheme (the default one) and configures it from the validated <c>Auth</c> section.</summary>
    public static void AddSignalStreamJwt(this IServiceCollection services)
    {
        services.AddSingleton<JwtEvents>();
        services.AddAuthentication(SchemeName).AddJwtBearer(SchemeName, _ => { });
        services.AddOptions<JwtBearerOptions>(SchemeName)
            .Configure<IOptions<AuthOptions>, TimeProvider>((bearer, auth, time) => Configure(bearer, auth.Value.Jwt, time));
    }

    private static void Configure(JwtBearerOptions bearer, AuthOptions.JwtSettings settings, TimeProvider time)
    {
        bearer.EventsType = typeof(JwtEvents);
        // Claims keep their JWT names ("sub", "symbols"), not the WS-Federation URIs JwtBearer maps them to by default.
        bearer.MapInboundClaims = false;
        bearer.SaveToken = false;
        bearer.TimeProvider = time;
        if (settings.Source != AuthOptions.KeySource.SharedKey)
        {
            bearer.ConfigurationManager = new SigningKeySource(settings, SigningKeySource.CreateHttpClient(settings), time);
            bearer.RefreshOnIssuerKeyNotFound = true;
        }

        bearer.TokenValidationParameters = new TokenValidationParameters
        {
            AuthenticationType = SchemeName,
            NameClaimType = JwtRegisteredClaimNames.Sub,
            ValidateIssuer = true,
            ValidIssuer = string.IsNullOrWhiteSpace(settings.Issuer) ? null : settings.Issuer,
            ValidateAudience = true,
            ValidAudience = settings.Audience,
            ValidAlgorithms = settings.EffectiveAlgorithms(),
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = settings.ClockSkew,
            LifetimeValidator = (_, _, token, _) => ValidateLifetime(token, time, settings),
            IssuerSigningKey = settings.Source == AuthOptions.KeySource.SharedKey ? new SymmetricSecurityKey(settings.KeyBytes()) : null,
        };
    }

    /// <summary>Our lifetime rule (<see cref="TokenLifetime"/>) in place of IdentityModel's; a refusal carries its reason.</summary>
    private static bool ValidateLifetime(SecurityToken token, TimeProvider time, AuthOptions.JwtSettings settings)
    {
        var reason = token is JsonWebToken jwt
            ? TokenLifetime.Check(jwt, time.GetUtcNow().ToUnixTimeMilliseconds(), settings, out _)
            : TokenRejection.Malformed;
        return reason is not { } refused ? true : throw new TokenRejectedException(refused);
    }
}
