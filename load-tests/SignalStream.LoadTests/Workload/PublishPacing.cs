using System.Globalization;

namespace SignalStream.LoadTests.Workload;

/// <summary>
/// How evenly the harness published: a publishing loop that fell behind (its timer slept long, or its thread waited)
/// sends what it owes at once, and such a burst reaches hundreds of subscribers a signal together. The largest burst and
/// when it happened tell a server's stall from one the harness made.
/// </summary>
internal sealed class PublishPacing
{
    private long _largest;
    private TimeSpan _largestAt;
    private long _over10;

    /// <summary>Called before each catch-up: <paramref name="owed"/> signals are due now.</summary>
    public void Observe(long owed, TimeSpan at)
    {
        if (owed >= 10)
        {
            _over10++;
        }

        if (owed > _largest)
        {
            (_largest, _largestAt) = (owed, at);
        }
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"publisher pacing: largest catch-up {_largest} signals at once ({_largestAt.TotalSeconds:0.0} s into the window), {_over10} catch-ups of 10 or more");
}
