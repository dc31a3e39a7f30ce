namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// The rules of a capacity sweep, as pure functions of the steps measured so far: which steps count toward capacity,
/// when to stop climbing, what to measure after the climb (refine, confirm), and which step is the capacity. Checked by
/// <see cref="SelfChecks"/>.
/// </summary>
/// <remarks>
/// Issue 9 asks for throughput "at equal or lower p99". Comparing two servers at one offered rate cannot answer it
/// (past saturation the peer's p99 is seconds, below it the peer's p99 can be lower than ours), so each server gets its
/// own highest delivered rate whose p99 stays within one bound, and the ratio is taken between those.
/// </remarks>
internal static class SweepCapacity
{
    /// <summary>A step that delivered less than this share of what it offered fell behind during its window.</summary>
    public const double SaturatedBelow = 0.9;

    /// <summary>Steps in a row over the bound before the climb stops: on a shared machine one miss can be noise.</summary>
    public const int MissesInARow = 2;

    /// <summary>The server fell behind: it delivered under 90 % of the offered rate, or its backlog did not drain in time
    /// (which would also pollute the next step's latency).</summary>
    public static bool Saturated(SweepStep step) =>
        !step.Drained || step.Result.DeliveredPerSecond < SaturatedBelow * step.Result.OfferedPerSecond;

    /// <summary>The step counts toward capacity: everything delivered once and in order, not saturated, and p99 within
    /// the bound.</summary>
    public static bool WithinBound(SweepStep step, double boundMs) =>
        step.Result.Correct && !Saturated(step) && step.Result.LatencyCount > 0 && step.Result.P99Ms <= boundMs;

    /// <summary>Why the climb stops after the steps so far; null to go on to the next rate.</summary>
    public static string? StopReason(IReadOnlyList<SweepStep> steps, double boundMs)
    {
        if (steps.Count == 0)
        {
            return null;
        }

        var last = steps[^1];
        if (!last.Drained)
        {
            return $"the {last.Rate:0.##}/s step's backlog did not drain in time";
        }

        if (Saturated(last))
        {
            return $"the {last.Rate:0.##}/s step delivered under {SaturatedBelow:P0} of what it offered";
        }

        var misses = 0;
        for (var i = steps.Count - 1; i >= 0 && !WithinBound(steps[i], boundMs); i--)
        {
            misses++;
        }

        return misses >= MissesInARow ? $"{misses} steps in a row missed p99 <= {boundMs:0.##} ms or lost signals" : null;
    }

    /// <summary>Refinement stops once the bracket around the capacity is narrower than this share of its rate.</summary>
    public const double Resolution = 0.05;

    /// <summary>
    /// The next rate to measure once the climb has stopped: halfway between the capacity step's rate and the lowest
    /// rate above it that did not count. Null when there is no capacity, nothing above it failed (the capacity is at the
    /// ladder's top), or the bracket is already within <see cref="Resolution"/>.
    /// </summary>
    public static double? NextRefinement(IReadOnlyList<SweepStep> steps, double boundMs)
    {
        if (Capacity(steps, boundMs) is not { } capacity)
        {
            return null;
        }

        double? failedAbove = null;
        foreach (var step in steps)
        {
            if (step.Rate > capacity.Rate && !WithinBound(step, boundMs) && (failedAbove is null || step.Rate < failedAbove))
            {
                failedAbove = step.Rate;
            }
        }

        if (failedAbove is not { } above || above - capacity.Rate < Resolution * capacity.Rate)
        {
            return null;
        }

        return Math.Round((capacity.Rate + above) / 2, 2);
    }

    /// <summary>There is a capacity and no higher rate was measured to miss: the capacity is a floor, not a limit.</summary>
    public static bool IsFloor(IReadOnlyList<SweepStep> steps, double boundMs)
    {
        if (Capacity(steps, boundMs) is not { } capacity)
        {
            return false;
        }

        foreach (var step in steps)
        {
            if (step.Rate > capacity.Rate && !WithinBound(step, boundMs))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The step with the highest delivered rate among those within the bound, leaving out any rate that was measured
    /// again and missed (a confirmation that failed); null when none is.
    /// </summary>
    public static SweepStep? Capacity(IReadOnlyList<SweepStep> steps, double boundMs)
    {
        SweepStep? best = null;
        foreach (var step in steps)
        {
            if (WithinBound(step, boundMs) && !MissedAt(steps, step.Rate, boundMs)
                && (best is null || step.Result.DeliveredPerSecond > best.Result.DeliveredPerSecond))
            {
                best = step;
            }
        }

        return best;
    }

    /// <summary>
    /// The capacity step's rate when it was measured only once (one step's p99 on a shared machine can pass by luck):
    /// measuring it again either confirms it or, when the repeat misses, moves the capacity down to the next rate.
    /// </summary>
    public static double? NextConfirmation(IReadOnlyList<SweepStep> steps, double boundMs)
    {
        if (Capacity(steps, boundMs) is not { } capacity)
        {
            return null;
        }

        var measured = 0;
        foreach (var step in steps)
        {
            measured += step.Rate == capacity.Rate ? 1 : 0;
        }

        return measured < 2 ? capacity.Rate : null;
    }

    /// <summary>
    /// The next step once the climb has stopped, within what is left of each budget: a refinement when one is due (a
    /// failed confirmation opens a new bracket above the lower capacity), else a confirmation; null when neither is.
    /// </summary>
    public static (double Rate, bool Refine)? NextAfterClimb(IReadOnlyList<SweepStep> steps, double boundMs, int refinesLeft, int confirmsLeft)
    {
        if (refinesLeft > 0 && NextRefinement(steps, boundMs) is { } refine)
        {
            return (refine, true);
        }

        return confirmsLeft > 0 && NextConfirmation(steps, boundMs) is { } confirm ? (confirm, false) : null;
    }

    private static bool MissedAt(IReadOnlyList<SweepStep> steps, double rate, double boundMs)
    {
        foreach (var step in steps)
        {
            if (step.Rate == rate && !WithinBound(step, boundMs))
            {
                return true;
            }
        }

        return false;
    }
}
