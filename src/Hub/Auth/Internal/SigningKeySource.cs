using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace SignalStream.Hub.Auth.Internal;

/// <summary>
/// The issuer's signing keys, from an OpenID Connect discovery document (<c>Auth:Jwt:Authority</c>) or straight from a
/// JSON Web Key Set (<c>Auth:Jwt:JwksUrl</c>), cached and refreshed by IdentityModel's <see cref="ConfigurationManager{T}"/>
/// (every 12 h, and at most every 5 min when a token names an unknown key, as after a key rotation).
/// </summary>
/// <remarks>
/// Deliberately not a <see cref="BaseConfigurationManager"/>: JwtBearer hands one of those to IdentityModel, which
/// swallows a failed fetch and reports "signature key not found", so an unreachable issuer would look like forged
/// tokens. Through this interface JwtBearer fetches the keys itself and a failure reaches our AuthenticationFailed
/// event as what it is (<see cref="TokenRejection.KeysUnavailable"/>).
/// </remarks>
internal sealed class SigningKeySource : IConfigurationManager<OpenIdConnectConfiguration>
{
    /// <summary>Discovery documents and key sets are a few KB; a larger answer is not one.</summary>
    public const int MaxDocumentBytes = 1024 * 1024;

    private readonly ConfigurationManager<OpenIdConnectConfiguration> _inner;

    public SigningKeySource(AuthOptions.JwtSettings settings, HttpClient http)
    {
        var documents = new HttpDocumentRetriever(http) { RequireHttps = settings.RequireHttpsMetadata };
        _inner = settings.Source == AuthOptions.KeySource.Authority
            ? new ConfigurationManager<OpenIdConnectConfiguration>(
                settings.Authority.TrimEnd('/') + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), documents)
            : new ConfigurationManager<OpenIdConnectConfiguration>(settings.JwksUrl, new JwksRetriever(), documents);
    }

    public static HttpClient CreateHttpClient(AuthOptions.JwtSettings settings) => new()
    {
        Timeout = settings.MetadataTimeout,
        MaxResponseContentBufferSize = MaxDocumentBytes,
    };

    public Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel) => _inner.GetConfigurationAsync(cancel);

    public void RequestRefresh() => _inner.RequestRefresh();

    /// <summary>A bare key set as a configuration with signing keys and no issuer (the issuer is configured).</summary>
    private sealed class JwksRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var keySet = new JsonWebKeySet(await retriever.GetDocumentAsync(address, cancel));
            var configuration = new OpenIdConnectConfiguration { JsonWebKeySet = keySet, JwksUri = address };
            foreach (var key in keySet.GetSigningKeys())
            {
                configuration.SigningKeys.Add(key);
            }

            return configuration;
        }
    }
}
