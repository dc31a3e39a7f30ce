using Microsoft.AspNetCore.SignalR;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Runs around every hub invocation: the per-connection rate limit, and a shield that turns unexpected exceptions into
/// a generic HubException so detailed errors (enabled for protocol faults such as an oversized message) never leak
/// internals.
/// </summary>
internal sealed partial class HubGuardFilter(
    ConnectionRegistry registry,
    ILogger<HubGuardFilter> logger) : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(
        HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        // Calls SignalR refuses before they reach a method (unknown names, arguments that do not bind) are counted by
        // GuardedHubProtocol against the same budget.
        if (registry.FindGuard(invocationContext.Context.ConnectionId) is { } guard && registry.TryAdmitCall(guard) is { } refusal)
        {
            throw new HubException(refusal);
        }

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
    }
}
