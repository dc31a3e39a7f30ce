using System.Net;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

/// <summary>One HS256 node (<c>Auth:Jwt:SigningKey</c>) for the whole class.</summary>
public sealed class HmacNodeFixture : IAsyncLifetime
{
    internal TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>Shared-key tokens through JwtBearer: each way a token can be wrong is refused with its own reason.</summary>
public sealed class HmacTokenTests(HmacNodeFixture fixture) : IClassFixture<HmacNodeFixture>
{
    private TestNode Node => fixture.Node;

    [Fact]
    public async Task AValidTokenIsAcceptedOnRestAndOnTheHub()
    {
        var token = TestJwt.Valid("[\"BTCUSDT\"]");
        Assert.Equal(HttpStatusCode.OK, (await AuthProbe.GetAsync(Node, token)).Status);

        await using var client = await HubTestClient.ConnectAsync(Node.BaseAddress, token);
        var result = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", result.GetProperty("symbol").GetString());
    }

    [Fact]
    public async Task NoTokenIsRefusedAsMissingWithAPlainBearerChallenge()
    {
        var before = await AuthProbe.FailuresAsync(Node, "missing");

        var answer = await AuthProbe.GetAsync(Node, token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("missing", answer.Reason);
        Assert.Contains("access token is required", answer.Detail);
        Assert.Equal("Bearer", answer.WwwAuthenticate);
        Assert.Equal(before + 1, await AuthProbe.FailuresAsync(Node, "missing"));
    }

    [Theory]
    [InlineData("signed with another key", "bad_signature")]
    [InlineData("payload changed after signing", "bad_signature")]
    [InlineData("signature cut short", "bad_signature")]
    [InlineData("wrong issuer", "bad_issuer")]
    [InlineData("wrong audience", "bad_audience")]
    [InlineData("expired", "expired")]
    [InlineData("not yet valid", "not_yet_valid")]
    [InlineData("no exp", "malformed")]
    [InlineData("exp is text", "malformed")]
    [InlineData("not a JWT", "malformed")]
    [InlineData("four dots", "malformed")]
    [InlineData("alg none, unsigned", "bad_algorithm")]
    [InlineData("alg none, signature kept", "bad_algorithm")]
    [InlineData("HS512", "bad_algorithm")]
    [InlineData("RS256 header", "bad_algorithm")]
    [InlineData("crit header", "bad_algorithm")]
    [InlineData("longer than MaxTokenLength", "too_large")]
    public async Task EachBadTokenIsRefusedWithItsReasonOnRestAndOnTheHub(string @case, string reason)
    {
        var token = Token(@case);
        var before = await AuthProbe.FailuresAsync(Node, reason);

        var answer = await AuthProbe.GetAsync(Node, token);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal(reason, answer.Reason);
        Assert.Contains("error=\"invalid_token\"", answer.WwwAuthenticate);
        Assert.False(string.IsNullOrWhiteSpace(answer.Detail));
        Assert.DoesNotContain(token, answer.Detail!, StringComparison.Ordinal);

        // The WebSocket upgrade with ?access_token= (SignalR's browser convention) is refused the same way.
        Assert.Equal(401, await AuthProbe.ConnectStatusAsync(Node, token));
        Assert.Equal(before + 2, await AuthProbe.FailuresAsync(Node, reason));
    }

    private static string Token(string @case)
    {
        var valid = TestJwt.Valid();
        var parts = valid.Split('.');
        var hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        return @case switch
        {
            "signed with another key" => TestJwt.Sign(hs256, TestJwt.Payload(), key: "another-key-that-is-also-32-bytes-long"),
            "payload changed after signing" => parts[0] + "." + TestJwt.Encode(TestJwt.Payload("\"*\"")) + "." + parts[2],
            "signature cut short" => parts[0] + "." + parts[1] + "." + parts[2][..^4],
            "wrong issuer" => TestJwt.Sign(hs256, TestJwt.Payload(issuer: "https://evil.test")),
            "wrong audience" => TestJwt.Sign(hs256, TestJwt.Payload(audience: "someone-else")),
            "expired" => TestJwt.Valid(exp: TestJwt.Now - 600),
            "not yet valid" => TestJwt.Sign(hs256, TestJwt.Payload(extra: $",\"nbf\":{TestJwt.Now + 600}")),
            "no exp" => TestJwt.Sign(hs256, $"{{\"iss\":\"{TestJwt.Issuer}\",\"aud\":\"{TestJwt.Audience}\",\"symbols\":\"*\"}}"),
            "exp is text" => TestJwt.Sign(hs256, TestJwt.Payload("\"*\"", "\"tomorrow\"")),
            "not a JWT" => "not-a-token",
            "four dots" => "a.b.c.d.e.f",
            "alg none, unsigned" => TestJwt.Encode("{\"alg\":\"none\"}") + "." + parts[1] + ".",
            "alg none, signature kept" => TestJwt.Encode("{\"alg\":\"none\"}") + "." + parts[1] + "." + parts[2],
            "HS512" => TestJwt.Sign("{\"alg\":\"HS512\"}", TestJwt.Payload()),
            "RS256 header" => TestJwt.Sign("{\"alg\":\"RS256\"}", TestJwt.Payload()),
            "crit header" => TestJwt.Sign("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", TestJwt.Payload()),
            "longer than MaxTokenLength" => TestJwt.Valid(symbols: "[\"" + new string('A', 4500) + "\"]"),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
    }
}
