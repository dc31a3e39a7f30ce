namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// One connection's invocation rate limit (a token bucket: <c>Hub:InvocationsPerSecond</c>, bursts of
/// <c>Hub:InvocationBurst</c>) and its flood rule: the refusals it may run up before it is closed.
/// </summary>
/// <remarks>
/// Every call the node answers costs a token, refused ones too (an unknown method, arguments that do not bind): the
/// work and the reply are the same. The flood rule is a second bucket, of refusals: it holds <see cref="RefusalAllowance"/>
/// and refills at the invocation rate, so it empties only while refused calls come faster than the calls the limit
/// allows. A client that keeps to the rate, or retries a refused call after a pause, gets refused at most as often as
/// tokens come back and never empties it; one that ignores refusals and sends at more than twice the rate empties it in
/// <c>200 / (rate sent - 2 x rate allowed)</c> seconds, however the refused calls are interleaved with accepted ones.
/// (The rule it replaces, 200 refusals in a row, never fired: every token that came back reset the count.)
/// </remarks>
internal sealed class InvocationBudget(TimeProvider time, double ratePerSecond, int burst)
{
    /// <summary>Refusals a connection may run up beyond one per call the rate allows before it is closed for flooding.</summary>
    public const int RefusalAllowance = 200;

    private readonly Lock _gate = new();
    private double _tokens = burst;
    private double _refusalRoom = RefusalAllowance;
    private long _last = time.GetTimestamp();

    /// <summary>Takes a token for a call; false when the connection is over its rate (the call is refused).</summary>
    public bool TryTake()
    {
        lock (_gate)
        {
            Refill();
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }

    /// <summary>Counts a refused call; true when the refusals outran the rate by <see cref="RefusalAllowance"/>: the
    /// client is flooding and is to be closed.</summary>
    public bool CountRefusal()
    {
        lock (_gate)
        {
            Refill();
            _refusalRoom -= 1;
            return _refusalRoom < 0;
        }
    }

    private void Refill()
    {
        var now = time.GetTimestamp();
        var added = time.GetElapsedTime(_last, now).TotalSeconds * ratePerSecond;
        _last = now;
        _tokens = Math.Min(burst, _tokens + added);
        _refusalRoom = Math.Min(RefusalAllowance, _refusalRoom + added);
    }
}
