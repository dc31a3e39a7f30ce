using System.Net;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// Validly signed tokens whose <c>exp</c> or <c>nbf</c> no clock can reach. Before: <c>exp</c> 1e13 was a 500 (the
/// expiry overflowed <see cref="DateTimeOffset"/>) and <c>nbf</c> 1e300 was accepted (the float was truncated). Now
/// each is a 401 with a reason, and the node carries on.
/// </summary>
public sealed class TokenLifetimeOverflowTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Theory]
    [InlineData("exp 1e13 (year 318857)", "10000000000000", "", "bad_lifetime")]
    [InlineData("exp 1e13 as a float", "1e13", "", "bad_lifetime")]
    [InlineData("exp one second past year 9999", "253402300800", "", "bad_lifetime")]
    [InlineData("exp 1e300", "1e300", "", "malformed")]
    [InlineData("exp negative", "-1", "", "bad_lifetime")]
    [InlineData("nbf 1e300", "NOW+3600", ",\"nbf\":1e300", "malformed")]
    [InlineData("nbf 1e13", "NOW+3600", ",\"nbf\":10000000000000", "bad_lifetime")]
    public async Task ASignedTokenWithAnUnreachableTimeIsA401WithAReason(string @case, string exp, string extra, string reason)
    {
        var expJson = exp == "NOW+3600" ? (TestJwt.Now + 3600).ToString(System.Globalization.CultureInfo.InvariantCulture) : exp;
        var token = TestJwt.Sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", TestJwt.Payload("\"*\"", expJson, extra: extra));

        var answer = await AuthProbe.GetAsync(_node, token);

        Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"{@case}: {(int)answer.Status}");
        Assert.Equal(reason, answer.Reason);
        Assert.Equal(401, await AuthProbe.ConnectStatusAsync(_node, token));
        using var management = _node.ManagementHttp();
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/ready")).StatusCode);
    }
}
