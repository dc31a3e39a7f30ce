using System.Globalization;
using SignalStream.LoadTests;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Reporting;
using SignalStream.LoadTests.Scenarios;

// SignalStream load harness (docs: load-tests/README.md). Every run is bounded (--max-minutes) and kills every process
// it started. Examples:
//   dotnet run -c Release --project load-tests/SignalStream.LoadTests -- --clients 2000 --rate 200 --duration 20
//   dotnet run -c Release --project load-tests/SignalStream.LoadTests -- --scenarios sweep --clients 2000 --sweep-rates 100,200,400
//   dotnet run -c Release --project load-tests/SignalStream.LoadTests -- --self-check   (the harness's own logic, no servers)
// Thousands of client sockets each wake up for one small message: running their receive continuations on the socket
// engine's thread instead of queueing each to the thread pool cut the harness's CPU per delivered message by ~15 %
// (measured when it was added, session 3; not kept in BENCHMARKS.md, so compare again before relying on it). The
// price: every client's receive then runs on that one thread (on 2 cores), so run with
// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 to compare. Read by the runtime when the first socket is created, so
// set before any; the servers the harness starts do not inherit it (ManagedProcess removes it).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}
if (args is ["--self-check"])
{
    return SelfChecks.Run();
}

var root = FindRepositoryRoot();
var (options, errors) = LoadTestOptions.Parse(args, root);
if (options is null)
{
    foreach (var error in errors)
    {
        Console.Error.WriteLine(error);
    }

    return 2;
}

var folder = Directory.CreateDirectory(Path.GetFullPath(options.Output)).FullName;
using var bounded = new CancellationTokenSource(TimeSpan.FromMinutes(options.MaxMinutes));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    bounded.Cancel();
};

var machine = string.Create(CultureInfo.InvariantCulture,
    $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, load average at start {ProcessSampler.LoadAverage()}");
Console.WriteLine($"SignalStream load test -> {folder}");
Console.WriteLine($"{machine}; {ReportWriter.Describe(options)}");
var results = new List<ScenarioResult>();
var sweeps = new List<SweepResult>();
var failed = false;
try
{
    foreach (var scenario in options.Scenarios)
    {
        foreach (var target in options.Targets)
        {
            if (scenario is "bell" or "outage" && target != "signalstream")
            {
                continue; // the closing bell and the outage run the engine and its store: SignalStream only
            }

            Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {scenario} / {target} ...");
            if (scenario == "sweep")
            {
                var sweep = new SweepResult { Target = target, P99BoundMs = options.P99BoundMs };
                sweeps.Add(sweep);
                await new SweepScenario(options, folder).RunAsync(sweep, bounded.Token);
                Console.WriteLine($"  {ReportWriter.CapacityLine([sweep], options.P99BoundMs)}{(sweep.StoppedBecause is { } why ? $"; stopped: {why}" : "")}");
                continue;
            }

            IReadOnlyList<ScenarioResult> rows = scenario switch
            {
                "bell" => await new ClosingBellScenario(options, folder).RunAsync(bounded.Token),
                "outage" => [await new EngineOutageScenario(options, folder).RunAsync(bounded.Token)],
                "idle" => [await new IdleScenario(options, folder).RunAsync(target, bounded.Token)],
                _ => [await new PublishScenario(options, folder).RunAsync(scenario, target, bounded.Token)],
            };
            foreach (var result in rows)
            {
                results.Add(result);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {result.Scenario}: delivered/s {result.DeliveredPerSecond:0}, p50 {result.P50Ms:0.0} ms, p99 {result.P99Ms:0.0} ms, gaps {result.Gaps}, dups {result.Duplicates}, missing {result.Missing}, lost {result.ClientsLost}, errors {result.Errors}"));
            }
        }
    }
}
catch (OperationCanceledException) when (bounded.IsCancellationRequested)
{
    Console.Error.WriteLine($"Stopped: the run reached --max-minutes {options.MaxMinutes} (or Ctrl+C); reporting what finished.");
    failed = true;
}

machine += $", load average at end {ProcessSampler.LoadAverage()}";
ReportWriter.Write(results, sweeps, options, folder, machine);
if (options.Smoke)
{
    // A sweep is judged on correctness only, like the rest: every step must deliver everything, once, in order.
    var checkedRows = results.Concat(sweeps.SelectMany(s => s.Steps.Select(step => step.Result).Prepend(s.WarmUp).OfType<ScenarioResult>())).ToList();
    var wrong = checkedRows.Where(r => !r.Correct || r.Delivered == 0).ToList();
    foreach (var r in checkedRows)
    {
        var verdict = r.Correct && r.Delivered > 0 ? "PASS" : "FAIL";
        Console.WriteLine($"{verdict} {r.Scenario}/{r.Target}: delivered {r.Delivered} live + {r.Recovered} recovered of {r.Expected}, gaps {r.Gaps}, duplicates {r.Duplicates}, missing {r.Missing}, lost clients {r.ClientsLost}, errors {r.Errors}");
    }

    failed |= wrong.Count > 0 || checkedRows.Count == 0;
}

return failed ? 1 : 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SignalStream.sln")))
        {
            return dir.FullName;
        }
    }

    return Environment.CurrentDirectory;
}

