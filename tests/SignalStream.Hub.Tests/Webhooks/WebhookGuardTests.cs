using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;
using SignalStream.Hub.Webhooks;
using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Tests.Webhooks;

/// <summary>
/// The webhook's guards before an alert reaches the engine: an address that keeps failing to authenticate is refused
/// unread (secret guessing and floods of wrong secrets are throttled), and an alert whose <c>timenow</c> is older than
/// the source's <c>MaxAlertAge</c> is refused, so a captured body replayed after the duplicate window is no new signal.
/// </summary>
public sealed class WebhookGuardTests : IAsyncDisposable
{
    private const string Secret = "main-source-secret-0123456789";
    private static readonly IPAddress Guesser = IPAddress.Parse("203.0.113.9");
    private static readonly IPAddress Other = IPAddress.Parse("203.0.113.10");

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly ManualTime _time = new();
    private int _submitted;

    [Fact]
    public async Task WrongSecretsFromOneAddressGet429OnceItsFailuresRunOutWhileAnotherAddressIsServed()
    {
        using var webhook = Webhook(o => (o.AuthFailureBurst, o.AuthFailuresPerMinute) = (5, 1));
        var answers = new List<int>();
        HttpContext? refused = null;
        for (var i = 0; i < 1000; i++)
        {
            var (status, http) = await PostAsync(webhook, Guesser, Alert($"wrong-secret-{i:D4}-0123456789"));
            answers.Add(status);
            refused ??= status == StatusCodes.Status429TooManyRequests ? http : null;
        }

        Assert.Equal(5, answers.Count(s => s == StatusCodes.Status401Unauthorized));
        Assert.Equal(995, answers.Count(s => s == StatusCodes.Status429TooManyRequests));
        Assert.Equal("60", refused!.Response.Headers.RetryAfter.ToString());

        // Refused unread, the right secret too, until a failure comes back; the detail names the keys.
        var (locked, _, detail) = await PostWithDetailAsync(webhook, Guesser, Alert(Secret));
        Assert.Equal(StatusCodes.Status429TooManyRequests, locked);
        Assert.Contains("Webhooks:AuthFailureBurst, Webhooks:AuthFailuresPerMinute", detail, StringComparison.Ordinal);
        Assert.Equal(0, _submitted);

        // Another address has its own failures: its wrong secret is judged, its right one accepted.
        Assert.Equal(StatusCodes.Status401Unauthorized, (await PostAsync(webhook, Other, Alert("another-wrong-secret-0123"))).Status);
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(webhook, Other, Alert(Secret))).Status);
    }

    [Fact]
    public async Task AnAlertReplayedAfterTheDuplicateWindowIsRefusedAsStaleNamingTimenow()
    {
        using var webhook = Webhook(_ => { });
        var body = Alert(Secret, timenow: _time.GetUtcNow());
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(webhook, Other, body)).Status);

        // The same body 10 min 1 s later: past DedupeWindow (10 min), so only its age can tell it is not new.
        _time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var (status, field, detail) = await PostWithDetailAsync(webhook, Other, body);
        Assert.Equal(StatusCodes.Status400BadRequest, status);
        Assert.Equal("timenow", field);
        Assert.Contains("is 00:10:01 old", detail, StringComparison.Ordinal);
        Assert.Contains("Webhooks:TradingView:main:MaxAlertAge", detail, StringComparison.Ordinal);

        // Ahead of the node's clock by more than the bound: refused too. Within it either way: taken.
        Assert.Equal(StatusCodes.Status400BadRequest, (await PostAsync(webhook, Other, Alert(Secret, timenow: _time.GetUtcNow().AddMinutes(6)))).Status);
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(webhook, Other, Alert(Secret, timenow: _time.GetUtcNow().AddMinutes(-4)))).Status);
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(webhook, Other, Alert(Secret, timenow: _time.GetUtcNow().AddMinutes(1)))).Status);
        Assert.Equal(3, _submitted);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private static string Alert(string secret, DateTimeOffset? timenow = null) =>
        $"{{\"secret\":\"{secret}\",\"ticker\":\"BINANCE:BTCUSDT\",\"action\":\"buy\",\"price\":65000.5,\"interval\":\"15\""
        + (timenow is { } t ? $",\"timenow\":\"{t:yyyy-MM-ddTHH:mm:ssZ}\"" : "") + "}";

    private TradingViewWebhook Webhook(Action<WebhooksOptions> configure)
    {
        var options = new WebhooksOptions();
        options.TradingView["main"] = new TradingViewSourceOptions { Secret = Secret, Burst = 100 };
        configure(options);
        Assert.Empty(options.Validate());
        return new TradingViewWebhook(Options.Create(options), new AcceptingIntake(this), ["BTCUSDT"], [Timeframe.FifteenMinutes], _time,
            new WebhookMetrics(_services.GetRequiredService<IMeterFactory>()), new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance),
            NullLogger<TradingViewWebhook>.Instance);
    }

    private static async Task<(int Status, HttpContext Http)> PostAsync(TradingViewWebhook webhook, IPAddress from, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = from;
        http.Request.Method = "POST";
        http.Request.ContentLength = bytes.Length;
        http.Request.Body = new MemoryStream(bytes);
        var result = await webhook.HandleAsync(http, "main").WaitAsync(TimeSpan.FromSeconds(30));
        return (((IStatusCodeHttpResult)result).StatusCode ?? 0, http);
    }

    private static async Task<(int Status, string? Field, string Detail)> PostWithDetailAsync(TradingViewWebhook webhook, IPAddress from, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = from;
        http.Request.ContentLength = bytes.Length;
        http.Request.Body = new MemoryStream(bytes);
        var problem = Assert.IsType<ProblemHttpResult>(await webhook.HandleAsync(http, "main").WaitAsync(TimeSpan.FromSeconds(30))).ProblemDetails;
        return (problem.Status ?? 0, problem.Extensions.TryGetValue("field", out var field) ? field as string : null, problem.Detail ?? "");
    }

    /// <summary>The engine's part: every alert that gets this far is taken (and counted).</summary>
    private sealed class AcceptingIntake(WebhookGuardTests test) : IAlertIntake
    {
        public ValueTask<AlertResult> SubmitAsync(AlertSubmission alert, CancellationToken cancellationToken)
        {
            var seq = Interlocked.Increment(ref test._submitted);
            return ValueTask.FromResult<AlertResult>(new AlertResult.Published($"signal-{seq}", seq, 66000m, 64000m));
        }

        public void Restore(TradingViewAlertReceived alert)
        {
        }

        public ValueTask ReplayAsync(TradingViewAlertReceived alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
