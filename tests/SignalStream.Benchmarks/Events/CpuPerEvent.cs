using System.Diagnostics;
using System.Globalization;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// CPU time per committed event, for this process and for the test PostgreSQL (all its processes, from /proc), measured
/// from a start mark after set-up. CPU time is far less sensitive than wall-clock time to other work on a shared box,
/// so it is the figure to compare before/after; the ceiling on N idle cores is N / (client + server) events/s.
/// </summary>
internal sealed class CpuPerEvent
{
    private readonly TimeSpan _clientStart;
    private readonly double? _serverStart;
    private readonly long _persistedStart;

    /// <param name="persisted">Events committed so far.</param>
    /// <param name="provider">The store's provider: PostgreSQL's CPU is counted for "postgres" and "marten".</param>
    public CpuPerEvent(long persisted, string provider)
    {
        _persistedStart = persisted;
        _clientStart = Process.GetCurrentProcess().TotalProcessorTime;
        _serverStart = EventsBenchHost.IsPostgreSql(provider) ? PostgresSeconds() : null;
    }

    /// <summary>"client … µs + PostgreSQL … µs = … µs CPU per event over N events".</summary>
    public string Describe(long persisted)
    {
        var events = persisted - _persistedStart;
        if (events <= 0)
        {
            return "no events committed";
        }

        var client = (Process.GetCurrentProcess().TotalProcessorTime - _clientStart).TotalSeconds * 1e6 / events;
        if (_serverStart is not { } serverStart || PostgresSeconds() is not { } serverEnd)
        {
            return $"client {client:F1} µs CPU per event over {events} events";
        }

        var server = (serverEnd - serverStart) * 1e6 / events;
        return $"client {client:F1} µs + PostgreSQL {server:F1} µs = {client + server:F1} µs CPU per event over {events} events";
    }

    /// <summary>
    /// CPU seconds of the test PostgreSQL: the postmaster (with its exited children, which it reaps) and its live
    /// children. Null when SIGNALSTREAM_TEST_POSTGRES_DATA (set by scripts/test-services.sh) or /proc is not there.
    /// </summary>
    private static double? PostgresSeconds()
    {
        var data = Environment.GetEnvironmentVariable("SIGNALSTREAM_TEST_POSTGRES_DATA");
        var pidFile = data is null ? null : Path.Combine(data, "postmaster.pid");
        if (pidFile is null || !File.Exists(pidFile) || !Directory.Exists("/proc"))
        {
            return null;
        }

        var postmaster = File.ReadLines(pidFile).First().Trim();
        var ticks = 0L;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var stat = TryRead(Path.Combine(dir, "stat"));
            if (stat is null)
            {
                continue;
            }

            // Fields after the parenthesized command: state ppid … utime(14) stime(15) cutime(16) cstime(17).
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var pid = Path.GetFileName(dir);
            if (pid == postmaster)
            {
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                    + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }
            else if (fields[1] == postmaster)
            {
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }

        // USER_HZ is 100 on every Linux this runs on.
        return ticks / 100.0;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
