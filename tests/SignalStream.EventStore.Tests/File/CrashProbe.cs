using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// The file journal's child process (tests/EventStoreCrashProbe, built next to these tests): it appends group commits
/// to a journal folder, each event <c>{"g":group,"i":index}</c>, and prints <c>ACK group count</c> once a group's
/// fsync is done, so a test that kills it knows what was acknowledged.
/// </summary>
internal static class CrashProbe
{
    /// <summary>Starts the probe on <paramref name="folder"/>, its output and errors redirected for the test to read.</summary>
    public static Process Start(string folder) => Start(folder, 65536, 1, long.MaxValue, pauseAt: null);

    /// <summary>
    /// Starts the probe with segments of <paramref name="segmentSize"/> bytes, numbering its groups from
    /// <paramref name="firstGroup"/> and waiting for the kill after <paramref name="lastGroup"/>; with <paramref name="pauseAt"/> (<c>step:n</c>, tests/EventStoreCrashProbe/RollOverPause.cs)
    /// it prints <c>PAUSED step</c> and stops the n-th time a roll-over reaches that step.
    /// </summary>
    public static Process Start(string folder, long segmentSize, long firstGroup, long lastGroup, string? pauseAt)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EventStoreCrashProbe.dll"));
        start.ArgumentList.Add(folder);
        start.ArgumentList.Add(segmentSize.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(firstGroup.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(lastGroup.ToString(CultureInfo.InvariantCulture));
        if (pauseAt is not null)
        {
            start.Environment["CRASH_PROBE_PAUSE_AT"] = pauseAt;
        }

        return Process.Start(start)!;
    }

    /// <summary>Notes an acknowledgement line (<c>ACK group count</c>) in <paramref name="acked"/>; other lines are not.</summary>
    public static void Record(string line, Dictionary<long, int> acked)
    {
        if (line.Split(' ') is ["ACK", var g, var n])
        {
            acked[long.Parse(g, CultureInfo.InvariantCulture)] = int.Parse(n, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>What the store holds of the probe's groups: each group's event indexes, in store order.</summary>
    public static async Task<SortedDictionary<long, List<int>>> ReadGroupsAsync(IEventStore store, TimeSpan wait)
    {
        var groups = new SortedDictionary<long, List<int>>();
        await using var reader = store.OpenGlobalReader(0);
        while (await reader.ReadNextAsync(5000).AsTask().WaitAsync(wait) is { Count: > 0 } page)
        {
            foreach (var e in page)
            {
                using var json = JsonDocument.Parse(e.Data);
                var g = json.RootElement.GetProperty("g").GetInt64();
                if (!groups.TryGetValue(g, out var list))
                {
                    groups[g] = list = [];
                }

                list.Add(json.RootElement.GetProperty("i").GetInt32());
            }
        }

        return groups;
    }
}
