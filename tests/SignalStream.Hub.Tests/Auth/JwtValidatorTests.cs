using SignalStream.Hub.Auth;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

public sealed class JwtValidatorTests
{
    private static readonly AuthOptions.JwtSettings Settings = new()
    {
        SigningKey = TestJwt.Key,
        Issuer = TestJwt.Issuer,
        Audience = TestJwt.Audience,
        ClockSkew = TimeSpan.FromSeconds(30),
        MaxTokenLength = 4096,
    };

    private static JwtValidationResult Validate(string token) => new JwtValidator(Settings, TimeProvider.System).Validate(token);

    [Fact]
    public void ValidTokenYieldsItsClaims()
    {
        var result = Validate(TestJwt.Valid("[\"BTCUSDT\",\"ETHUSDT\"]", extra: ",\"max_subscriptions\":3"));
        Assert.True(result.IsValid, result.Message);
        Assert.Equal(["BTCUSDT", "ETHUSDT"], result.Claims!.Symbols);
        Assert.Equal(3, result.Claims.MaxSubscriptions);
        Assert.Equal("user-1", result.Claims.Subject);
    }

    [Fact]
    public void AudienceMayBeAnArray()
    {
        var token = TestJwt.Sign("{\"alg\":\"HS256\"}",
            $"{{\"iss\":\"{TestJwt.Issuer}\",\"aud\":[\"other\",\"{TestJwt.Audience}\"],\"exp\":{TestJwt.Now + 60},\"symbols\":\"*\"}}");
        var result = Validate(token);
        Assert.True(result.IsValid, result.Message);
        Assert.Equal(["*"], result.Claims!.Symbols);
    }

    public static TheoryData<string, string> Attacks()
    {
        var payload = TestJwt.Payload();
        var valid = TestJwt.Valid();
        var parts = valid.Split('.');
        var tamperedPayload = TestJwt.Encode(TestJwt.Payload("\"*\""));
        return new TheoryData<string, string>
        {
            { TestJwt.Encode("{\"alg\":\"none\"}") + "." + TestJwt.Encode(payload) + ".", "Malformed" },
            { TestJwt.Encode("{\"alg\":\"none\"}") + "." + TestJwt.Encode(payload) + "." + parts[2], "BadAlgorithm" },
            { TestJwt.Sign("{\"alg\":\"HS512\"}", payload), "BadAlgorithm" },
            { TestJwt.Sign("{\"alg\":\"hs256\"}", payload), "BadAlgorithm" },
            { TestJwt.Sign("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", payload), "BadAlgorithm" },
            { TestJwt.Sign("{\"alg\":\"HS256\"}", payload, key: "another-key-that-is-also-32-bytes-long"), "BadSignature" },
            { parts[0] + "." + tamperedPayload + "." + parts[2], "BadSignature" },
            { parts[0] + "." + parts[1] + "." + parts[2][..^2], "BadSignature" },
            { TestJwt.Valid(exp: TestJwt.Now - 120), "Expired" },
            { TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload(audience: "someone-else")), "BadAudience" },
            { TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload(issuer: "https://evil.test")), "BadIssuer" },
            { TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload(extra: $",\"nbf\":{TestJwt.Now + 600}")), "NotYetValid" },
            { TestJwt.Sign("{\"alg\":\"HS256\"}", $"{{\"iss\":\"{TestJwt.Issuer}\",\"aud\":\"{TestJwt.Audience}\"}}"), "Malformed" },
            { TestJwt.Valid(symbols: "[\"" + new string('A', 5000) + "\"]"), "TooLarge" },
            { "not-a-token", "Malformed" },
            { "a.b.c.d", "Malformed" },
            { "%%%.%%%.%%%", "Malformed" },
        };
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public void AttacksAreRejectedWithTheirReason(string token, string expected)
    {
        var result = Validate(token);
        Assert.False(result.IsValid);
        Assert.Equal(expected, result.Failure.ToString());
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        Assert.DoesNotContain(token, result.Message!);
    }

    [Fact]
    public void ExpiryAllowsTheConfiguredSkewOnly()
    {
        Assert.True(Validate(TestJwt.Valid(exp: TestJwt.Now - 10)).IsValid);
        Assert.Equal(JwtFailure.Expired, Validate(TestJwt.Valid(exp: TestJwt.Now - 40)).Failure);
    }

    [Fact]
    public void RandomBytesNeverValidate()
    {
        FsCheck.Check.QuickThrowOnFailure(FsCheck.Fluent.Prop.ForAll<string>(text =>
            text is null || !Validate(text).IsValid));
    }
}
