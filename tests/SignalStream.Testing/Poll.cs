namespace SignalStream.Testing;

/// <summary>
/// Waits on a condition, never on the clock: checks it every few milliseconds until it holds, and fails with a
/// <see cref="TimeoutException"/> naming what was awaited once <c>timeout</c> has passed (a generous bound for a shared,
/// loaded machine, not a measurement).
/// </summary>
public static class Poll
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    /// <param name="what">What is awaited, for the failure's message ("15 signals stored").</param>
    /// <param name="detail">More for the failure's message, read only on failure (a child process's log).</param>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string>? detail = null, TimeSpan? interval = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what, detail, interval);

    /// <inheritdoc cref="UntilAsync(Func{bool}, TimeSpan, string, Func{string}?, TimeSpan?)"/>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? detail = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"waited {timeout} for {what}" + (detail is null ? "" : ":\n" + detail()));
            }

            await Task.Delay(interval ?? DefaultInterval);
        }
    }
}
