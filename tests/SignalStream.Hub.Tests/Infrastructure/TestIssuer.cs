using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// A local OpenID Connect issuer on loopback Kestrel, as Keycloak, Auth0 or Entra ID look to a resource server: a
/// discovery document at <c>/.well-known/openid-configuration</c> naming its issuer and <c>jwks_uri</c>, and the key set
/// at <c>/jwks</c> (one RSA and one P-256 key; more can be added, as in a key rotation). Tokens are signed here by hand
/// (RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: P-256 with SHA-256, r||s), independently of IdentityModel.
/// </summary>
internal sealed class TestIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<(string Kid, AsymmetricAlgorithm Key)> _published = [];
    private readonly Lock _gate = new();
    private int _keySetRequests;
    private int _discoveryRequests;

    private TestIssuer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>The issuer (<c>iss</c>) the discovery document names: the authority URL itself.</summary>
    public string Issuer => Address.ToString().TrimEnd('/');

    public string JwksUrl => Issuer + "/jwks";

    public RSA Rsa { get; } = RSA.Create(2048);

    public ECDsa Ec { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>While false, the discovery document and key set answer 503 (an issuer that is down).</summary>
    public bool Available { get; set; } = true;

    /// <summary>Bytes of padding added to the key set (a hostile or broken issuer); 0 for none.</summary>
    public int KeySetPadding { get; set; }

    public int KeySetRequests => Volatile.Read(ref _keySetRequests);

    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    public static async Task<TestIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        TestIssuer? issuer = null;
        app.MapGet("/.well-known/openid-configuration", (HttpContext http) => Interlocked.Increment(ref issuer!._discoveryRequests) > 0 && issuer.Available
            ? Results.Text($"{{\"issuer\":\"{issuer.Issuer}\",\"jwks_uri\":\"{issuer.JwksUrl}\",\"id_token_signing_alg_values_supported\":[\"RS256\",\"ES256\"]}}", "application/json")
            : Results.StatusCode(503));
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref issuer!._keySetRequests);
            return issuer.Available ? Results.Text(issuer.KeySetJson(), "application/json") : Results.StatusCode(503);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        issuer = new TestIssuer(app, new Uri(address));
        issuer.Publish("rsa-1", issuer.Rsa);
        issuer.Publish("ec-1", issuer.Ec);
        return issuer;
    }

    /// <summary>Node settings that take keys from this issuer by discovery (<c>Auth:Jwt:Authority</c>).</summary>
    public string[] AuthoritySettings(params string[] more) =>
    [
        "Auth:Mode=jwt",
        $"Auth:Jwt:Authority={Issuer}",
        $"Auth:Jwt:Audience={TestJwt.Audience}",
        "Auth:Jwt:RequireHttpsMetadata=false",
        TestJwt.ManagementUrls(),
        .. more,
    ];

    /// <summary>Node settings that take keys from this issuer's key set directly (<c>Auth:Jwt:JwksUrl</c>).</summary>
    public string[] JwksSettings(params string[] more) =>
    [
        "Auth:Mode=jwt",
        $"Auth:Jwt:JwksUrl={JwksUrl}",
        $"Auth:Jwt:Issuer={Issuer}",
        $"Auth:Jwt:Audience={TestJwt.Audience}",
        "Auth:Jwt:RequireHttpsMetadata=false",
        TestJwt.ManagementUrls(),
        .. more,
    ];

    /// <summary>Adds a key to the published set (a rotation: the new key appears before tokens use it).</summary>
    public void Publish(string kid, AsymmetricAlgorithm key)
    {
        lock (_gate)
        {
            _published.Add((kid, key));
        }
    }

    public string Payload(string symbols = "[\"BTCUSDT\"]", long? exp = null, string? issuer = null, string audience = TestJwt.Audience, string extra = "") =>
        TestJwt.Payload(symbols, exp, issuer ?? Issuer, audience, extra);

    public string Rs256(string payload, string kid = "rsa-1", RSA? key = null) =>
        Sign($"{{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"{kid}\"}}", payload,
            input => (key ?? Rsa).SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    public string Es256(string payload, string kid = "ec-1", ECDsa? key = null) =>
        Sign($"{{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"{kid}\"}}", payload,
            input => (key ?? Ec).SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    public static string Sign(string header, string payload, Func<byte[], byte[]> sign)
    {
        var signingInput = TestJwt.Encode(header) + "." + TestJwt.Encode(payload);
        return signingInput + "." + Base64Url.EncodeToString(sign(Encoding.ASCII.GetBytes(signingInput)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await _app.DisposeAsync();
        Rsa.Dispose();
        Ec.Dispose();
    }

    private string KeySetJson()
    {
        var keys = new List<string>();
        lock (_gate)
        {
            foreach (var (kid, key) in _published)
            {
                keys.Add(key switch
                {
                    RSA rsa => RsaJwk(kid, rsa.ExportParameters(false)),
                    ECDsa ec => EcJwk(kid, ec.ExportParameters(false)),
                    _ => throw new InvalidOperationException("unsupported key"),
                });
            }
        }

        var padding = KeySetPadding > 0 ? ",\"padding\":\"" + new string('x', KeySetPadding) + "\"" : "";
        return "{\"keys\":[" + string.Join(',', keys) + "]" + padding + "}";
    }

    private static string RsaJwk(string kid, RSAParameters p) =>
        $"{{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"{kid}\",\"n\":\"{Base64Url.EncodeToString(p.Modulus)}\",\"e\":\"{Base64Url.EncodeToString(p.Exponent)}\"}}";

    private static string EcJwk(string kid, ECParameters p) =>
        $"{{\"kty\":\"EC\",\"use\":\"sig\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"kid\":\"{kid}\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\"}}";
}
