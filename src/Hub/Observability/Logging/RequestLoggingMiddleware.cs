using System.Diagnostics.CodeAnalysis;

namespace SignalStream.Hub.Observability.Logging;

/// <summary>
/// One structured line per finished request (Debug, category <c>SignalStream.Hub.Observability.Logging</c>) with
/// credentials removed from the query. It replaces ASP.NET Core's own "Request starting/finished" lines, which
/// print the raw URL (and so a SignalR <c>access_token</c>) and are therefore held at Warning.
/// </summary>
internal sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger, TimeProvider timeProvider)
{
    // Not async when the line is off: an awaiting frame would stay allocated for as long as a WebSocket request lasts.
    public Task InvokeAsync(HttpContext context) => logger.IsEnabled(LogLevel.Debug) ? LogAsync(context) : next(context);

    [SuppressMessage("Performance", "CA1873:Avoid potentially expensive logging", Justification = "Only called when Debug is on, so the line's arguments are only built when it is written.")]
    private async Task LogAsync(HttpContext context)
    {
        var started = timeProvider.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var request = context.Request;
            Log.RequestFinished(
                logger,
                request.Method,
                request.Path.Value ?? "/",
                QueryStringRedactor.Redact(request.QueryString.Value),
                context.Response.StatusCode,
                timeProvider.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6010, Level = LogLevel.Debug,
            Message = "HTTP {Method} {Path}{Query} responded {StatusCode} in {ElapsedMilliseconds:0.000} ms")]
        public static partial void RequestFinished(ILogger logger, string method, string path, string query, int statusCode, double elapsedMilliseconds);
    }
}

/// <summary>Puts <see cref="RequestLoggingMiddleware"/> first in the pipeline, ahead of static files and routing.</summary>
internal sealed class RequestLoggingStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<RequestLoggingMiddleware>();
        next(app);
    };
}
