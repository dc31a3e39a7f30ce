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

    /// <summary>After a failed fetch with no keys yet, requests fail at once this long (the 503's Retry-After).</summary>
    public static readonly TimeSpan FailedFetchBackoff = TimeSpan.FromSeconds(5);

    private readonly ConfigurationManager<OpenIdConnectConfiguration> _inner;
    private readonly TimeProvider _time;
    private volatile bool _hasKeys;
    private long _retryAfterTicks;

    public SigningKeySource(AuthOptions.JwtSettings settings, HttpClient http, TimeProvider time)
    {
        _time = time;
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

    /// <summary>
    /// The keys. Until a first fetch succeeds, IdentityModel fetches again on every call, one at a time behind a lock:
    /// with the issuer down, every request would queue for its own fetch and timeout. So a failure is remembered for
    /// <see cref="FailedFetchBackoff"/> and calls in that window fail at once. Once keys are in, IdentityModel keeps the
    /// last good set through failed refreshes.
    /// </summary>
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        if (!_hasKeys && _time.GetUtcNow().UtcTicks < Interlocked.Read(ref _retryAfterTicks))
        {
            throw new InvalidOperationException("The signing keys could not be fetched a moment ago; not retrying yet.");
        }

        try
        {
            var configuration = await _inner.GetConfigurationAsync(cancel);
            _hasKeys = true;
            return configuration;
        }
        catch (Exception ex) when (!_hasKeys && ex is not OperationCanceledException)
        {
            Interlocked.Exchange(ref _retryAfterTicks, (_time.GetUtcNow() + FailedFetchBackoff).UtcTicks);
            throw;
        }
    }

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
