using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Runs around every hub invocation: the per-connection rate limit, and a shield that turns unexpected exceptions into
/// a generic HubException so detailed errors (enabled for protocol faults such as an oversized message) never leak
/// internals.
/// </summary>
internal sealed partial class HubGuardFilter(
    ConnectionRegistry registry,
    IOptions<SignalHubOptions> options,
    HubMetrics metrics,
    ILogger<HubGuardFilter> logger) : IHubFilter
{
    // A client refused this many times in a row is not backing off at all: close it instead of answering forever.
    private const int RefusalsBeforeClose = 200;

    public async ValueTask<object?> InvokeMethodAsync(
        HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var connection = registry.Find(invocationContext.Context.ConnectionId);
        if (connection is not null && !connection.Bucket.TryTake())
        {
            metrics.RateLimited();
            if (connection.CountRefusal() >= RefusalsBeforeClose)
            {
                Log.Flooding(logger, connection.Id);
                connection.Close($"Closed for invocation flooding: keep under {options.Value.InvocationsPerSecond} invocations per second.", allowReconnect: false);
            }

            throw new HubException(
                $"Rate limit exceeded: at most {options.Value.InvocationsPerSecond} invocations per second (bursts of {options.Value.InvocationBurst}) per connection; slow down and retry.");
        }

        connection?.ResetRefusals();
        try
        {
            return await next(invocationContext);
        }
        catch (Exception ex) when (ex is not HubException and not OperationCanceledException)
        {
            Log.InvocationFailed(logger, ex, invocationContext.HubMethodName);
            throw new HubException($"The server failed to handle {invocationContext.HubMethodName}; the error has been logged. Retry, and report it if it persists.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5020, LogLevel.Error, "Hub method {Method} failed")]
        public static partial void InvocationFailed(ILogger logger, Exception exception, string method);

        [LoggerMessage(5021, LogLevel.Warning, "Connection {ConnectionId} closed for invocation flooding")]
        public static partial void Flooding(ILogger logger, string connectionId);
    }
}
