using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace SignalStream.Hub.Notifications.Internal.Senders;

/// <summary>
/// The HTTP sinks' shared half: one connection pool per sink, no redirects (a signed POST is not re-sent to a place the
/// configuration did not name), and every answer classified into delivered / transient / permanent.
/// </summary>
internal abstract class HttpSender : INotificationSender
{
    private const int ErrorBodyChars = 200;

    private readonly HttpClient _http;
    private readonly string[] _secrets;

    protected HttpSender(SinkSettings settings, TimeProvider time)
    {
        Settings = settings;
        Time = time;
        _secrets = [.. settings.Secrets()];
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = settings.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxResponseHeadersLength = 64,
        })
        {
            // Each attempt has its own deadline (the runner's token); the client adds none of its own.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("SignalStream-Notifications", "1"));
    }

    protected SinkSettings Settings { get; }

    protected TimeProvider Time { get; }

    public abstract RenderedNotification Render(Notification notification);

    public async ValueTask<SendResult> SendAsync(RenderedNotification rendered, Guid deliveryId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Settings.Url)
        {
            Content = new ByteArrayContent(rendered.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } } },
        };
        AddHeaders(request, rendered, deliveryId);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                return SendResult.Delivered;
            }

            var body = await ReadSnippetAsync(response, cancellationToken).ConfigureAwait(false);
            var retryAfter = RetryPolicy.RetryAfter(status, response.Headers.RetryAfter, Time.GetUtcNow()) ?? RetryAfterFromBody(status, body);
            var error = Scrub($"HTTP {status} {response.ReasonPhrase}{(status is >= 300 and < 400 ? " (redirects are not followed: set the final URL)" : "")}{(body.Length > 0 ? ": " + body : "")}");
            return new SendResult(RetryPolicy.IsTransient(status) ? SendStatus.Transient : SendStatus.Permanent, error, retryAfter);
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new SendResult(SendStatus.Transient, Scrub(Describe(ex)));
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The sink's own headers (the webhook's signature and delivery id).</summary>
    protected virtual void AddHeaders(HttpRequestMessage request, RenderedNotification rendered, Guid deliveryId)
    {
    }

    /// <summary>A Retry-After some services put in the JSON body instead of (or besides) the header.</summary>
    protected virtual TimeSpan? RetryAfterFromBody(int status, string body) => null;

    protected string Scrub(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    private static string Describe(HttpRequestException ex) => ex.InnerException switch
    {
        SocketException s => $"could not reach the receiver: {s.SocketErrorCode} ({ex.HttpRequestError})",
        IOException io => $"the connection failed: {io.Message}",
        _ => $"the request failed: {ex.Message}",
    };

    private static async Task<string> ReadSnippetAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Only the start of an error body is kept (for the log and the dead letter); a huge body is not read.
        var buffer = new byte[ErrorBodyChars * 4];
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
        {
            read += n;
        }

        var text = Encoding.UTF8.GetString(buffer, 0, read).ReplaceLineEndings(" ").Trim();
        return text.Length > ErrorBodyChars ? text[..ErrorBodyChars] + "…" : text;
    }
}
