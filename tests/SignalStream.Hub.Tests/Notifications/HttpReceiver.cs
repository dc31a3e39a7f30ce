using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>A request as the receiver got it.</summary>
internal sealed record ReceivedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At)
{
    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";

    public string Text => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>What the receiver answers to one request; <see cref="Hold"/> keeps the request open until it completes.</summary>
internal sealed record Reply(int Status, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null, Task? Hold = null)
{
    public static Reply Ok { get; } = new(200);
}

/// <summary>
/// A real HTTP receiver on loopback (a Kestrel app in the test process): records every request with its raw body
/// and answers from a script (in order), then with <see cref="DefaultReply"/>. Started on a chosen port, it can come
/// up after the sender has already tried (a receiver that was down).
/// </summary>
internal sealed class HttpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Reply> _script = new();
    private readonly List<ReceivedRequest> _requests = [];
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private HttpReceiver(WebApplication app)
    {
        _app = app;
    }

    public int Port { get; private set; }

    public Uri Url(string path = "/hook") => new($"http://127.0.0.1:{Port}{path}");

    /// <summary>The answer once the script is used up.</summary>
    public Reply DefaultReply { get; set; } = Reply.Ok;

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<HttpReceiver> StartAsync(int port = 0, params Reply[] script)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var receiver = new HttpReceiver(app);
        receiver.Then(script);
        app.Run(receiver.HandleAsync);
        await app.StartAsync().WaitAsync(NotificationNode.Wait);
        receiver.Port = new Uri(app.Urls.First()).Port;
        return receiver;
    }

    /// <summary>Adds answers to the script.</summary>
    public void Then(params Reply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived, and returns them.</summary>
    public async Task<IReadOnlyList<ReceivedRequest>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? NotificationNode.Wait);
        while (Requests.Count < count)
        {
            try
            {
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(200), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the receiver got {Requests.Count} of {count} requests in time");
            }
        }

        return Requests;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(NotificationNode.Wait);
        await _app.DisposeAsync();
        _arrived.Dispose(); // the app is stopped: no request releases it any more
    }

    private async Task HandleAsync(HttpContext http)
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body);
        var headers = http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new ReceivedRequest(http.Request.Method, http.Request.Path + http.Request.QueryString, headers, body.ToArray(), DateTimeOffset.UtcNow);
        lock (_gate)
        {
            _requests.Add(request);
        }

        _arrived.Release();
        var reply = _script.TryDequeue(out var next) ? next : DefaultReply;
        if (reply.Hold is { } hold)
        {
            await hold.WaitAsync(http.RequestAborted);
        }

        http.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
        {
            http.Response.Headers[name] = value;
        }

        if (reply.Body is not null)
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(reply.Body);
        }
    }
}
