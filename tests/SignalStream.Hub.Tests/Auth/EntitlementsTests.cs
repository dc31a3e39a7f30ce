using System.Security.Claims;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Tests.Auth;

public sealed class EntitlementsTests
{
    private static ClaimsPrincipal Principal(params (string Type, string Value)[] claims) =>
        new(new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value)), JwtAuthentication.SchemeName, "sub", null));

    [Fact]
    public void SubjectAndSessionEndComeFromTheValidatedPrincipal()
    {
        var user = Principal(("sub", "user-1"), ("symbols", "BTCUSDT"), (Entitlements.SessionEndClaim, "1800000000000"));

        Assert.Equal("user-1", Entitlements.SubjectOf(user));
        Assert.Equal(1_800_000_000_000, Entitlements.ExpiryOf(user));
        Assert.Null(Entitlements.SubjectOf(new ClaimsPrincipal(new ClaimsIdentity())));
        Assert.Equal(0, Entitlements.ExpiryOf(new ClaimsPrincipal(new ClaimsIdentity())));
    }

    [Fact]
    public void APerformanceReportShowsARestrictedCallerOnlyItsSymbolsAndNoRollUps()
    {
        var report = new PerformanceReport(1, [Row("BTCUSDT"), Row("ETHUSDT"), Row("*")]);

        var restricted = Entitlements.From(Principal(("symbols", "btcusdt"))).Visible(report);
        var unrestricted = Entitlements.From(Principal(("symbols", "*"))).Visible(report);
        var nothing = Entitlements.From(Principal(("sub", "user-1"))).Visible(report);

        Assert.Equal(["BTCUSDT"], restricted.Groups.Select(g => g.Symbol));
        Assert.Equal(["BTCUSDT", "ETHUSDT", "*"], unrestricted.Groups.Select(g => g.Symbol));
        Assert.Empty(nothing.Groups);
    }

    [Fact]
    public void ANegativeSubscriptionLimitIsIgnored()
    {
        Assert.Null(Entitlements.From(Principal(("symbols", "*"), ("max_subscriptions", "-1"))).MaxSubscriptions);
        Assert.Equal(3, Entitlements.From(Principal(("symbols", "*"), ("max_subscriptions", "3"))).MaxSubscriptions);
    }

    private static PerformanceGroup Row(string symbol) => new("ensemble", false, symbol, "*", 1, 0, 1, 0, 0, 1, 1, 2, 0, null, []);
}
