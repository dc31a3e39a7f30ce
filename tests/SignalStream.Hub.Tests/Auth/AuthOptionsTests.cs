using SignalStream.Hub.Auth;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Auth;

public sealed class AuthOptionsTests
{
    private static AuthOptions Jwt(Action<AuthOptions.JwtSettings> configure)
    {
        var options = new AuthOptions { Mode = "jwt" };
        options.Jwt.Issuer = "https://issuer.test";
        options.Jwt.Audience = "signalstream";
        configure(options.Jwt);
        return options;
    }

    [Fact]
    public void EachKeySourceAloneIsValid()
    {
        Assert.Empty(Jwt(j => j.SigningKey = TestJwt.Key).Validate());
        Assert.Empty(Jwt(j => { j.Authority = "https://keycloak.test/realms/trading"; j.Issuer = ""; }).Validate());
        Assert.Empty(Jwt(j => j.JwksUrl = "https://issuer.test/.well-known/jwks.json").Validate());
        Assert.Empty(Jwt(j => { j.JwksUrl = "http://127.0.0.1:5000/jwks"; j.RequireHttpsMetadata = false; }).Validate());
    }

    [Theory]
    [InlineData("two key sources", "exactly one key source")]
    [InlineData("no key source", "exactly one key source")]
    [InlineData("short shared key", "at least 32 bytes")]
    [InlineData("plain http authority", "RequireHttpsMetadata=false")]
    [InlineData("relative JWKS URL", "absolute https URL")]
    [InlineData("RS256 with a shared key", "Auth:Jwt:Algorithms has 'RS256'")]
    [InlineData("HS256 with public keys", "Auth:Jwt:Algorithms has 'HS256'")]
    [InlineData("no issuer with a JWKS URL", "Auth:Jwt:Issuer is required")]
    [InlineData("no audience", "Auth:Jwt:Audience is required")]
    [InlineData("negative minimum lifetime", "MinRemainingLifetime")]
    [InlineData("metadata timeout of an hour", "MetadataTimeout")]
    public void AConfigurationThatCannotWorkIsRefusedNamingTheKey(string @case, string message)
    {
        var options = @case switch
        {
            "two key sources" => Jwt(j => { j.SigningKey = TestJwt.Key; j.JwksUrl = "https://issuer.test/jwks"; }),
            "no key source" => Jwt(_ => { }),
            "short shared key" => Jwt(j => j.SigningKey = "short"),
            "plain http authority" => Jwt(j => j.Authority = "http://keycloak.test/realms/trading"),
            "relative JWKS URL" => Jwt(j => j.JwksUrl = "/jwks"),
            "RS256 with a shared key" => Jwt(j => { j.SigningKey = TestJwt.Key; j.Algorithms = ["RS256"]; }),
            "HS256 with public keys" => Jwt(j => { j.JwksUrl = "https://issuer.test/jwks"; j.Algorithms = ["RS256", "HS256"]; }),
            "no issuer with a JWKS URL" => Jwt(j => { j.JwksUrl = "https://issuer.test/jwks"; j.Issuer = ""; }),
            "no audience" => Jwt(j => { j.SigningKey = TestJwt.Key; j.Audience = ""; }),
            "negative minimum lifetime" => Jwt(j => { j.SigningKey = TestJwt.Key; j.MinRemainingLifetime = TimeSpan.FromSeconds(-1); }),
            "metadata timeout of an hour" => Jwt(j => { j.JwksUrl = "https://issuer.test/jwks"; j.MetadataTimeout = TimeSpan.FromHours(1); }),
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        Assert.Contains(options.Validate(), problem => problem.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void ANodeWithTwoKeySourcesDoesNotStart()
    {
        // The hub reads the validated Auth section while mapping its endpoints, so the host does not even build.
        var error = Assert.ThrowsAny<Exception>(() => SignalStreamHost.Build(
        [
            "--urls", "http://127.0.0.1:0", "--Node:Roles=all", "--Ingest:Source=simulated",
            .. TestJwt.Settings.Select(s => "--" + s), "--Auth:Jwt:JwksUrl=https://issuer.test/jwks",
        ]));

        Assert.Contains("exactly one key source", error.Message, StringComparison.Ordinal);
    }
}
