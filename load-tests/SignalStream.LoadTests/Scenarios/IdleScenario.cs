using System.Globalization;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// Memory per idle connection (issue 18): the steady scenario's clients connect, subscribe and ping, and nothing is
/// published; the server's memory is read 3 s after the last subscription (the steady scenario's figure) and again after
/// holding them for <c>--duration</c> seconds, once the server's garbage collector has had time to settle. The hold
/// is also the window in which to attach a heap snapshot (<c>dotnet-gcdump collect -p PID</c>): the server's pid is
/// printed when it starts.
/// </summary>
internal sealed class IdleScenario(LoadTestOptions options, string folder)
{
    public async Task<ScenarioResult> RunAsync(string target, CancellationToken cancellationToken)
    {
        var result = new ScenarioResult { Scenario = "idle", Target = target, Clients = options.Clients, Symbols = options.Symbols };
        var symbols = options.SymbolNames();
        await using var farm = new ServerFarm(options, Path.Combine(folder, $"idle-{target}"));
        Directory.CreateDirectory(Path.Combine(folder, $"idle-{target}"));
        var (_, hubs) = await PublishScenario.StartServersAsync(options, farm, target, symbols, cancellationToken);
        var server = hubs[0].Process;
        var before = ProcessMemory.Read(server.Pid);
        await using var pool = new ClientPool(options, hubs[0].Url, target, symbols, options.Clients, slowFraction: 0);
        result.ConnectSeconds = await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
        result.ConnectsPerSecond = options.Clients / Math.Max(result.ConnectSeconds, 0.001);
        if (!await pool.WaitSubscribedAsync(TimeSpan.FromSeconds(60), cancellationToken))
        {
            result.Notes.Add("not every subscription was answered within 60 s");
        }

        pool.StartPinging();
        await Task.Delay(3000, cancellationToken);
        var early = ProcessMemory.Read(server.Pid);
        result.IdleKbPerConnection = PerConnection(early.RssKb - before.RssKb);
        Console.WriteLine($"  holding {options.Clients} idle clients for {options.Duration:0} s; server pid {server.Pid}");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(options.Duration);
        var peakKb = early.RssKb;
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(1000, cancellationToken);
            peakKb = Math.Max(peakKb, ProcessMemory.Read(server.Pid).RssKb);
        }

        var settled = ProcessMemory.Read(server.Pid);
        result.IdleKbPerConnectionSettled = PerConnection(settled.RssKb - before.RssKb);
        result.IdleAnonKbPerConnectionSettled = PerConnection(settled.AnonKb - before.AnonKb);
        result.ServerRssPeakMb = Math.Round(peakKb / 1024.0, 1);
        result.DurationSeconds = options.Duration;
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"RSS before the first connect {before.RssKb / 1024.0:0.0} MB (anonymous {before.AnonKb / 1024.0:0.0}); 3 s after the last subscription {early.RssKb / 1024.0:0.0} MB = {result.IdleKbPerConnection:0.0} KB a connection; after {options.Duration:0} s idle {settled.RssKb / 1024.0:0.0} MB (anonymous {settled.AnonKb / 1024.0:0.0}) = {result.IdleKbPerConnectionSettled:0.0} KB a connection, {result.IdleAnonKbPerConnectionSettled:0.0} of it anonymous memory (heaps and stacks; the rest is mapped files: code)"));
        if (target == Targets.SignalStream)
        {
            result.Notes.Add(await GcReading.DescribeAsync(hubs[0].Url, options.Clients, cancellationToken));
        }

        PublishScenario.Account(result, pool.Clients, symbols, new long[symbols.Count]);
        result.Errors = pool.Stats.Errors;
        result.ErrorSamples = pool.Stats.ErrorSamples.Take(10).ToList();
        return result;
    }

    private double PerConnection(long kb) => Math.Round((double)kb / options.Clients, 1);

    /// <summary>Resident memory of a process from <c>/proc/&lt;pid&gt;/status</c>: all of it, and its anonymous part.</summary>
    private readonly record struct ProcessMemory(long RssKb, long AnonKb)
    {
        public static ProcessMemory Read(int pid)
        {
            long rss = 0, anon = 0;
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        rss = Kb(line);
                    }
                    else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                    {
                        anon = Kb(line);
                    }
                }
            }
            catch (IOException)
            {
                // The process exited: no reading.
            }

            return new ProcessMemory(rss, anon);
        }

        private static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
