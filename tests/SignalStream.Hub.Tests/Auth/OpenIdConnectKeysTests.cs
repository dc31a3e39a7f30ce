using System.Net;
using System.Security.Cryptography;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

/// <summary>A local issuer and two nodes that trust it: one by discovery (<c>Auth:Jwt:Authority</c>), one by key set URL
/// (<c>Auth:Jwt:JwksUrl</c>).</summary>
public sealed class IssuerFixture : IAsyncLifetime
{
    internal TestIssuer Issuer { get; private set; } = null!;

    internal TestNode ByDiscovery { get; private set; } = null!;

    internal TestNode ByJwksUrl { get; private set; } = null!;

    internal TestNode Node(string keys) => keys == "discovery" ? ByDiscovery : ByJwksUrl;

    public async Task InitializeAsync()
    {
        Issuer = await TestIssuer.StartAsync();
        ByDiscovery = await TestNode.StartAsync(new InMemorySignalHistory(), settings: Issuer.AuthoritySettings());
        ByJwksUrl = await TestNode.StartAsync(new InMemorySignalHistory(), settings: Issuer.JwksSettings());
    }

    public async Task DisposeAsync()
    {
        await ByDiscovery.DisposeAsync();
        await ByJwksUrl.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}

/// <summary>RS256 and ES256 tokens with keys fetched from an OpenID Connect issuer, as Keycloak, Auth0 and Entra ID serve them.</summary>
public sealed class OpenIdConnectKeysTests(IssuerFixture fixture) : IClassFixture<IssuerFixture>
{
    private TestIssuer Issuer => fixture.Issuer;

    [Theory]
    [InlineData("discovery", "RS256")]
    [InlineData("discovery", "ES256")]
    [InlineData("jwks", "RS256")]
    [InlineData("jwks", "ES256")]
    public async Task TokensSignedWithThePublishedKeysAreAcceptedOnRestAndOnTheHub(string keys, string algorithm)
    {
        var node = fixture.Node(keys);
        var payload = Issuer.Payload("[\"BTCUSDT\"]");
        var token = algorithm == "RS256" ? Issuer.Rs256(payload) : Issuer.Es256(payload);

        Assert.Equal(HttpStatusCode.OK, (await AuthProbe.GetAsync(node, token)).Status);
        await using var client = await HubTestClient.ConnectAsync(node.BaseAddress, token);
        var result = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", result.GetProperty("symbol").GetString());
        var denied = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" }));
        Assert.Contains("does not entitle you to ETHUSDT", denied.Message);
    }

    [Theory]
    [InlineData("discovery", "a stranger's RSA key under our kid", "bad_signature")]
    [InlineData("jwks", "a stranger's EC key under our kid", "bad_signature")]
    [InlineData("discovery", "a kid the issuer never published", "bad_signature")]
    [InlineData("jwks", "wrong issuer", "bad_issuer")]
    [InlineData("discovery", "wrong issuer", "bad_issuer")]
    [InlineData("jwks", "wrong audience", "bad_audience")]
    [InlineData("discovery", "expired", "expired")]
    [InlineData("jwks", "not yet valid", "not_yet_valid")]
    [InlineData("discovery", "exp 1e13", "bad_lifetime")]
    [InlineData("jwks", "RS384, not in Auth:Jwt:Algorithms", "bad_algorithm")]
    public async Task EachBadTokenIsRefusedWithItsReason(string keys, string @case, string reason)
    {
        var node = fixture.Node(keys);
        var token = Token(@case);
        var before = await AuthProbe.FailuresAsync(node, reason);

        var answer = await AuthProbe.GetAsync(node, token);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal(reason, answer.Reason);
        Assert.Contains("error=\"invalid_token\"", answer.WwwAuthenticate);
        Assert.Equal(401, await AuthProbe.ConnectStatusAsync(node, token));
        Assert.Equal(before + 2, await AuthProbe.FailuresAsync(node, reason));
    }

    [Fact]
    public async Task AKeyPublishedAfterStartIsFetchedWhenATokenFirstNamesIt()
    {
        // A rotation: the issuer publishes rsa-2 and starts signing with it. The node knows only rsa-1; the first token
        // naming rsa-2 makes it refresh the key set (JwtBearer's RefreshOnIssuerKeyNotFound), after which it is accepted.
        await using var issuer = await TestIssuer.StartAsync();
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: issuer.JwksSettings());
        Assert.Equal(HttpStatusCode.OK, (await AuthProbe.GetAsync(node, issuer.Rs256(issuer.Payload()))).Status);
        var fetchesBefore = issuer.KeySetRequests;

        using var rotated = RSA.Create(2048);
        issuer.Publish("rsa-2", rotated);
        var token = issuer.Rs256(issuer.Payload(), kid: "rsa-2", key: rotated);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        AuthAnswer answer;
        while ((answer = await AuthProbe.GetAsync(node, token)).Status != HttpStatusCode.OK)
        {
            Assert.Equal("bad_signature", answer.Reason);
            await Task.Delay(100, deadline.Token);
        }

        Assert.True(issuer.KeySetRequests > fetchesBefore);
    }

    [Fact]
    public async Task AnIssuerThatCannotBeReachedIsA503WithRetryAfterNotABadToken()
    {
        await using var issuer = await TestIssuer.StartAsync();
        issuer.Available = false;
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: issuer.AuthoritySettings());
        var token = issuer.Rs256(issuer.Payload());

        var answer = await AuthProbe.GetAsync(node, token);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Equal("keys_unavailable", answer.Reason);
        Assert.Equal(503, await AuthProbe.ConnectStatusAsync(node, token));
        using (var management = node.ManagementHttp())
        {
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/live")).StatusCode);
        }

        // A failure is remembered for 5 s (the Retry-After), so the issuer is not asked again by every request: without
        // that, each of these ten would fetch once; with it, all ten fetch only if every one took over 5 s.
        var fetches = issuer.DiscoveryRequests;
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await AuthProbe.GetAsync(node, token)).Status);
        }

        Assert.True(issuer.DiscoveryRequests - fetches < 10, $"{issuer.DiscoveryRequests - fetches} fetches for ten requests");

        issuer.Available = true;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        AuthAnswer answer2;
        while ((answer2 = await AuthProbe.GetAsync(node, token)).Status != HttpStatusCode.OK)
        {
            Assert.Equal("keys_unavailable", answer2.Reason);
            await Task.Delay(250, deadline.Token);
        }
    }

    [Fact]
    public async Task AKeySetOverOneMebibyteIsNotReadAndTheNodeAnswers503()
    {
        await using var issuer = await TestIssuer.StartAsync();
        issuer.KeySetPadding = 2 * 1024 * 1024;
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: issuer.JwksSettings());

        var answer = await AuthProbe.GetAsync(node, issuer.Rs256(issuer.Payload()));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Equal("keys_unavailable", answer.Reason);
        Assert.True(issuer.KeySetRequests > 0);
    }

    private string Token(string @case)
    {
        switch (@case)
        {
            case "a stranger's RSA key under our kid":
                using (var stranger = RSA.Create(2048))
                {
                    return Issuer.Rs256(Issuer.Payload(), key: stranger);
                }

            case "a stranger's EC key under our kid":
                using (var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    return Issuer.Es256(Issuer.Payload(), key: stranger);
                }

            case "a kid the issuer never published":
                using (var stranger = RSA.Create(2048))
                {
                    return Issuer.Rs256(Issuer.Payload(), kid: "never-published", key: stranger);
                }

            case "wrong issuer":
                return Issuer.Rs256(Issuer.Payload(issuer: "https://evil.test"));
            case "wrong audience":
                return Issuer.Es256(Issuer.Payload(audience: "someone-else"));
            case "expired":
                return Issuer.Rs256(Issuer.Payload(exp: TestJwt.Now - 600));
            case "not yet valid":
                return Issuer.Es256(Issuer.Payload(extra: $",\"nbf\":{TestJwt.Now + 600}"));
            case "exp 1e13":
                return Issuer.Rs256(Issuer.Payload(exp: 10_000_000_000_000));
            case "RS384, not in Auth:Jwt:Algorithms":
                return TestIssuer.Sign("{\"alg\":\"RS384\",\"kid\":\"rsa-1\"}", Issuer.Payload(),
                    input => Issuer.Rsa.SignData(input, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1));
            default:
                throw new ArgumentOutOfRangeException(nameof(@case));
        }
    }
}
