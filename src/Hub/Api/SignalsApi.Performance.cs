using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Journal;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Api;

internal static partial class SignalsApi
{
    /// <summary>
    /// <c>/api/performance</c>: the store's durable projection where it keeps one (Marten, on every node), else the
    /// engine's in-memory journal. A projection read is bounded by <c>Hub:History:ReadTimeout</c> like every store read
    /// here; a store that fails or does not answer gets 503 with <c>Retry-After</c>.
    /// </summary>
    private static async Task<IResult> ReadPerformanceAsync(HttpContext http, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        PerformanceReport report;
        if (http.RequestServices.GetService<IStoredPerformanceReport>() is { } stored)
        {
            var timeout = http.RequestServices.GetRequiredService<IOptions<SignalHistoryOptions>>().Value.ReadTimeout;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                report = await stored.GetReportAsync(deadline.Token).AsTask().WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.PerformanceUnavailable(loggers.CreateLogger(typeof(SignalsApi)), ex);
                http.Response.Headers.RetryAfter = "5";
                return Results.Problem(
                    detail: "The performance statistics could not be read from the event store in time; retry in a few seconds.",
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "Performance statistics unavailable");
            }
        }
        else if (http.RequestServices.GetService<IPerformanceReport>() is { } journal)
        {
            report = journal.GetReport();
        }
        else
        {
            return Unavailable("This node has no signal journal (it does not run the engine); ask a node with Node:Roles all or engine, or run the store on Storage:Provider=marten, whose performance projection every node serves.");
        }

        return Results.Json(Entitlements.From(http.User).Visible(report), ContractsJsonContext.Default.PerformanceReport);
    }

    private static partial class Log
    {
        [LoggerMessage(5230, LogLevel.Warning, "Reading the performance statistics from the event store failed or timed out; the client was told to retry")]
        public static partial void PerformanceUnavailable(ILogger logger, Exception exception);
    }
}
