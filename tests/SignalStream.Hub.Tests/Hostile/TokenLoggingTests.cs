using System.Net;
using System.Net.WebSockets;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// SignalR browsers put the token in the URL (<c>?access_token=</c>), where request logs, JwtBearer's failure logs and
/// SignalR's connection logs could all pick it up. With every category at Trace, no log line carries any part of a
/// token, accepted or refused.
/// </summary>
public sealed class TokenLoggingTests
{
    [Fact]
    public async Task NoPartOfAQueryStringTokenIsLoggedAtAnyLevel()
    {
        string[] jwt = [.. TestJwt.Settings.Select(s => "--" + s)];
        await using var server = await TestServer.StartAsync(
        [
            "--Node:Roles=all", "--Ingest:Source=simulated", .. jwt,
            "--Logging:LogLevel:Default=Trace", "--Logging:LogLevel:Microsoft=Trace", "--Logging:LogLevel:Microsoft.AspNetCore=Trace",
        ]);
        var valid = TestJwt.Valid("\"*\"");
        var forged = TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload("\"*\"", extra: ",\"jti\":\"forged\""), key: "another-key-that-is-also-32-bytes-long");
        var expired = TestJwt.Valid("\"*\"", exp: TestJwt.Now - 3600);
        var garbage = "zz9garbage9marker9zz";

        await using (var client = await HubTestClient.ConnectAsync(server.Address, valid))
        {
            await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        }

        foreach (var refused in new[] { forged, expired, garbage })
        {
            await Assert.ThrowsAnyAsync<WebSocketException>(() => HubTestClient.ConnectAsync(server.Address, refused));
        }

        using (var negotiate = await server.Http.PostAsync(new Uri($"/hubs/signals/negotiate?negotiateVersion=1&access_token={valid}", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, negotiate.StatusCode);
        }

        var lastRequest = server.Logs.WaitForEventAsync(6010);
        using (var rest = await server.Http.GetAsync(new Uri($"/api/symbols?access_token={forged}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, rest.StatusCode);
        }

        await lastRequest.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(server.Logs.Entries, e => e.EventId == 5400);
        // JwtBearer's own failure log carries IdentityModel's exception, whose token parts are hidden (PII off).
        Assert.Contains(server.Logs.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Authentication", StringComparison.Ordinal) && e.Exception is not null);
        Assert.Contains(server.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Trace);
        var secrets = new[] { valid, forged, expired }.SelectMany(t => t.Split('.')[1..]).Append(garbage).ToList();
        var leaks = server.Logs.Entries
            .Where(e => secrets.Any(s => e.Message.Contains(s, StringComparison.Ordinal) || e.State.Contains(s, StringComparison.Ordinal)
                || (e.Exception?.Contains(s, StringComparison.Ordinal) ?? false)))
            .Select(e => $"{e.Category} {e.EventId}: {e.Message}")
            .ToList();
        Assert.True(leaks.Count == 0, "token parts in the logs:\n" + string.Join('\n', leaks.Take(5)));
    }
}
