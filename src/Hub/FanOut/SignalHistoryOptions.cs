namespace SignalStream.Hub.FanOut;

/// <summary>
/// The <c>Hub:History</c> section: how long a read of the signal store may take when it serves a client (a hub
/// <c>Subscribe</c>, a REST read) or the fan-out's catch-up and hole repair, before the caller is answered that the
/// history is unavailable.
/// </summary>
public sealed class SignalHistoryOptions
{
    public const string SectionName = "Hub:History";

    /// <summary>
    /// Longest wait for one store read (and for a Subscribe, for the symbol's delivery lock). PostgreSQL that does not
    /// answer would otherwise hold the caller for Npgsql's connect (15 s) or command (30 s) timeout.
    /// </summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (ReadTimeout < TimeSpan.FromMilliseconds(100) || ReadTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"Hub:History:ReadTimeout is {ReadTimeout}; use a duration from 00:00:00.1 to 00:05:00 (for example 00:00:05).";
        }
    }
}
