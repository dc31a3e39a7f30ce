using System.Diagnostics.CodeAnalysis;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Journal;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Api;

internal static partial class RestApi
{
    /// <summary>
    /// <c>/api/performance</c> from the store's durable projection (Marten). The read is bounded by
    /// <c>Hub:History:ReadTimeout</c> like every store read here; a store that fails or does not answer gets 503 with
    /// <c>Retry-After</c>.
    /// </summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Any failure of the store's read is the client's 503 with a retry, logged (see the catch).")]
    private static async Task<IResult> ReadStoredPerformanceAsync(
        HttpContext http, IStoredPerformanceReport stored, TimeSpan timeout, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        PerformanceReport report;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            report = await stored.GetReportAsync(deadline.Token).AsTask().WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.PerformanceUnavailable(loggers.CreateLogger(typeof(RestApi)), ex);
            http.Response.Headers.RetryAfter = "5";
            return Results.Problem(
                detail: "The performance statistics could not be read from the event store in time; retry in a few seconds.",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Performance statistics unavailable");
        }

        return Results.Json(Entitlements.From(http.User).Visible(report), ContractsJsonContext.Default.PerformanceReport);
    }

    private static partial class Log
    {
        [LoggerMessage(5230, LogLevel.Warning, "Reading the performance statistics from the event store failed or timed out; the client was told to retry")]
        public static partial void PerformanceUnavailable(ILogger logger, Exception exception);
    }
}
