using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// One client hammering the REST API (issue 14, item 4): past its bucket it gets 429 problem+json with Retry-After,
/// while other clients (another address, another token subject) and the non-API endpoints are not limited.
/// </summary>
public sealed class RestRateLimitTests
{
    // One request per second sustained and three at once: a burst of 20 requests gets several 429s on any machine.
    private static readonly string[] Limit = ["Api:RateLimit:PermitsPerSecond=1", "Api:RateLimit:Burst=3"];

    [Fact]
    public async Task AClientPastItsLimitGets429WithRetryAfterWhileAnotherAddressIsServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: Limit);
        using var refusals = new NodeCounter(node, "signalstream_api_rate_limited_total");
        using var hammer = node.HttpFrom(IPAddress.Loopback);

        var limited = await BurstAsync(hammer, null);
        Assert.NotNull(limited);
        Assert.InRange(refusals.Value, 1, 17); // 20 sent, at least the burst of 3 served
        Assert.NotNull(limited.Retry);
        Assert.True(limited.Retry >= 1, $"Retry-After was {limited.Retry}");
        Assert.Equal("application/problem+json", limited.MediaType);
        Assert.Equal(429, limited.Problem.GetProperty("status").GetInt32());
        Assert.Contains("at most 1 per second (bursts of 3) per client", limited.Problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Another address has its own bucket: three requests in a row, all served.
        using var other = node.HttpFrom(IPAddress.Parse("127.0.0.2"));
        for (var i = 0; i < 3; i++)
        {
            using var response = await other.GetAsync("/api/signals?symbol=BTCUSDT");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Only the API is limited: health, metrics, the hub's negotiate and the dashboard are not.
        foreach (var path in new[] { "/health/live", "/metrics", "/" })
        {
            using var response = await hammer.GetAsync(path);
            Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        using var negotiate = await hammer.PostAsync("/hubs/signals/negotiate?negotiateVersion=1", null);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, negotiate.StatusCode);
    }

    [Fact]
    public async Task AnAuthenticatedClientIsLimitedByItsSubjectNotByTheAddressItSharesWithOthers()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: [.. TestJwt.Settings, .. Limit]);
        using var http = node.HttpFrom(IPAddress.Loopback);
        var alice = TokenFor("alice");
        var bob = TokenFor("bob");

        Assert.NotNull(await BurstAsync(http, alice));
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/signals?symbol=BTCUSDT");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bob);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task WithTheLimitTurnedOffNoRequestIsRefused()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: [.. Limit, "Api:RateLimit:Enabled=false"]);
        using var http = node.HttpFrom(IPAddress.Loopback);
        Assert.Null(await BurstAsync(http, null));
    }

    [Theory]
    [InlineData("Api:RateLimit:PermitsPerSecond=0", "Api:RateLimit:PermitsPerSecond")]
    [InlineData("Api:RateLimit:Burst=0", "Api:RateLimit:Burst")]
    public async Task AnInvalidLimitStopsTheNodeAtStartNamingTheKey(string setting, string key)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartAsync(new InMemorySignalHistory(), settings: setting));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Twenty requests at once; the first 429 among them, or null when every one was served.</summary>
    private static async Task<Refusal?> BurstAsync(HttpClient http, string? token)
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/api/signals?symbol=BTCUSDT");
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            return http.SendAsync(request);
        }));
        try
        {
            Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
            var refused = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
            if (refused is null)
            {
                return null;
            }

            using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            return new Refusal(
                refused.Headers.RetryAfter?.Delta is { } delta ? (int)delta.TotalSeconds : null,
                refused.Content.Headers.ContentType?.MediaType,
                problem.RootElement.Clone());
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    private static string TokenFor(string subject) => TestJwt.Sign(
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        $"{{\"sub\":\"{subject}\",\"iss\":\"{TestJwt.Issuer}\",\"aud\":\"{TestJwt.Audience}\",\"exp\":{TestJwt.Now + 3600},\"symbols\":\"*\"}}");

    private sealed record Refusal(int? Retry, string? MediaType, JsonElement Problem);
}
