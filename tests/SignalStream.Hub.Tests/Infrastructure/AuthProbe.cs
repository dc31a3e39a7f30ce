using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>What a node answered to one token: status, the problem+json <c>reason</c> and <c>detail</c>, WWW-Authenticate.</summary>
internal sealed record AuthAnswer(HttpStatusCode Status, string? Reason, string? Detail, string WwwAuthenticate);

/// <summary>Sends tokens the ways clients do and reads the refusal and the rejection metric.</summary>
internal static class AuthProbe
{
    /// <summary>GET <paramref name="path"/> with <c>Authorization: Bearer</c> (none when <paramref name="token"/> is null).</summary>
    public static async Task<AuthAnswer> GetAsync(TestNode node, string? token, string path = "/api/symbols")
    {
        using var http = node.Http();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(30));
        var body = await response.Content.ReadAsStringAsync();
        string? reason = null;
        string? detail = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            using var problem = JsonDocument.Parse(body);
            reason = problem.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;
            detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
        }

        return new AuthAnswer(response.StatusCode, reason, detail, response.Headers.WwwAuthenticate.ToString());
    }

    /// <summary>The hub's WebSocket with the token in <c>?access_token=</c> (SignalR's browser convention); the HTTP status
    /// of a refused upgrade, or 101 when the connection was accepted.</summary>
    public static async Task<int> ConnectStatusAsync(TestNode node, string token)
    {
        try
        {
            await using var client = await HubTestClient.ConnectAsync(node.BaseAddress, token);
            return 101;
        }
        catch (WebSocketException ex) when (ex.Message.Contains("401", StringComparison.Ordinal))
        {
            return 401;
        }
        catch (WebSocketException ex) when (ex.Message.Contains("503", StringComparison.Ordinal))
        {
            return 503;
        }
    }

    /// <summary><c>signalstream_hub_auth_failures_total{reason}</c> from the management endpoint.</summary>
    public static async Task<double> FailuresAsync(TestNode node, string reason)
    {
        using var http = node.ManagementHttp();
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
        return ExpositionParser.Parse(text).TryGetValue("signalstream_hub_auth_failures_total", out var family)
            ? family.Samples.Where(s => s.Label("reason") == reason).Sum(s => s.Value)
            : 0;
    }
}
