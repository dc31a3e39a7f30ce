using System.Globalization;
using SignalStream.LoadTests.Clients;
using SignalStream.LoadTests.Measurement;
using SignalStream.LoadTests.Servers;
using SignalStream.LoadTests.Workload;

namespace SignalStream.LoadTests.Scenarios;

/// <summary>
/// Capacity sweep: the steady workload (<see cref="PublishScenario"/>: same clients, symbols, payloads, Redis feed)
/// climbed up <c>--sweep-rates</c> against one server, to find the highest delivered rate whose p99 stays within
/// <c>--p99-bound-ms</c> (<see cref="SweepCapacity"/>).
/// </summary>
/// <remarks>
/// The clients connect once and stay for every step (10,000 connects take seconds and are not what is measured); each
/// symbol's seq continues across steps, so every step checks continuity from where the previous one ended. Between steps
/// the harness waits until every client has every signal, so one step's backlog is not the next step's latency.
/// </remarks>
internal sealed class SweepScenario
{
    /// <summary>Pause after a drain before the next step: the server's queues are empty, its GC catches up.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    /// <summary>Seconds of warm-up at the ladder's first rate before the first measured step.</summary>
    private const double WarmUpSeconds = 3;

    private readonly LoadTestOptions _options;
    private readonly string _folder;

    public SweepScenario(LoadTestOptions options, string folder)
    {
        _options = options;
        _folder = folder;
    }

    /// <summary>Climbs the ladder against <see cref="SweepResult.Target"/>, adding each step to <paramref name="sweep"/>
    /// as it ends (so a run cut by --max-minutes still reports the steps it finished).</summary>
    public async Task RunAsync(SweepResult sweep, CancellationToken cancellationToken)
    {
        var target = sweep.Target;
        var symbols = _options.SymbolNames();
        var loadAtStart = ProcessSampler.LoadAverage();
        sweep.Clients = _options.Clients;
        sweep.Symbols = symbols.Count;
        var folder = Directory.CreateDirectory(Path.Combine(_folder, $"sweep-{target}")).FullName;
        await using var farm = new ServerFarm(_options, folder);
        var (redisEndpoint, hubs) = await PublishScenario.StartServersAsync(_options, farm, target, symbols, cancellationToken);
        var server = hubs[0];
        var baselineRss = ProcessSampler.ReadRssMb(server.Process.Pid);
        var pool = new ClientPool(_options, server.Url, target, symbols, _options.Clients, slowFraction: 0);
        try
        {
            var connectSeconds = await pool.ConnectAsync(pool.Clients, resume: false, cancellationToken);
            sweep.ConnectsPerSecond = Math.Round(_options.Clients / Math.Max(connectSeconds, 0.001));
            if (!await pool.WaitSubscribedAsync(TimeSpan.FromSeconds(60), cancellationToken))
            {
                sweep.Notes.Add("not every subscription was answered within 60 s");
            }

            pool.StartPinging();
            await Task.Delay(3000, cancellationToken);
            sweep.IdleKbPerConnection = Math.Round((ProcessSampler.ReadRssMb(server.Process.Pid) - baselineRss) * 1024 / _options.Clients, 1);

            var subscribers = new long[symbols.Count];
            foreach (var ledger in pool.Clients.SelectMany(c => c.Ledgers))
            {
                subscribers[PublishScenario.IndexOf(symbols, ledger.Symbol)]++;
            }

            await using var publisher = new RedisPublisher(redisEndpoint, _options.ChannelPrefix);
            var continuity = new Continuity { Errors = pool.Stats.Errors };
            var finalSeq = new long[symbols.Count];

            // A fresh server's first messages pay for JIT and first-use allocations (first trial: the first step's p99
            // was 76 ms at 500 deliveries/s, the next steps' 4 ms at up to 4x the rate), which is not capacity: warm up at
            // the ladder's first rate, checked like a step, not counted.
            sweep.WarmUp = (await StepAsync(target, "warm-up", _options.SweepRates[0], Math.Min(WarmUpSeconds, _options.Duration), server.Process, server.Url, pool,
                publisher, symbols, subscribers, finalSeq, continuity, cancellationToken)).Result;
            await Task.Delay(Settle, cancellationToken);

            async Task MeasureAsync(double rate, string name)
            {
                var step = await StepAsync(target, name, rate, _options.Duration, server.Process, server.Url, pool, publisher, symbols, subscribers, finalSeq,
                    continuity, cancellationToken);
                sweep.Steps.Add(step);
                var r = step.Result;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name} {target}: offered/s {r.OfferedPerSecond:0}, delivered/s {r.DeliveredPerSecond:0}, p50 {r.P50Ms:0.0} ms, p99 {r.P99Ms:0.0} ms, server CPU {r.ServerCpuAveragePercent:0} %, gaps {r.Gaps}, dups {r.Duplicates}, missing {r.Missing}, lost {r.ClientsLost}{(SweepCapacity.WithinBound(step, sweep.P99BoundMs) ? "" : " (does not count)")}"));
            }

            foreach (var rate in _options.SweepRates)
            {
                await MeasureAsync(rate, string.Create(CultureInfo.InvariantCulture, $"sweep {rate:0.##}/s"));
                sweep.StoppedBecause = SweepCapacity.StopReason(sweep.Steps, sweep.P99BoundMs);
                if (sweep.StoppedBecause is not null)
                {
                    break;
                }

                await Task.Delay(Settle, cancellationToken);
            }

            // The ladder is coarse (a capacity between 200 and 400 signals/s reads as 200): bisect the bracket above the
            // capacity step; and measure the capacity's rate again, since one step's p99 on a shared machine can pass by
            // luck. Refinement first; a failed confirmation moves the capacity down and opens a new bracket to refine.
            // A step that ended saturated may have left a backlog: one more drain period first.
            var (refinesLeft, confirmsLeft) = (_options.SweepRefine, _options.SweepConfirm);
            while (SweepCapacity.NextAfterClimb(sweep.Steps, sweep.P99BoundMs, refinesLeft, confirmsLeft) is { } next)
            {
                var (rate, refine) = next;
                (refinesLeft, confirmsLeft) = refine ? (refinesLeft - 1, confirmsLeft) : (refinesLeft, confirmsLeft - 1);
                if (!await PublishScenario.DrainAsync(pool.Clients, symbols, finalSeq, TimeSpan.FromSeconds(Math.Max(10, _options.Duration)), cancellationToken))
                {
                    sweep.Notes.Add("not refined nor confirmed: the clients were still behind after the last step and one more drain period");
                    break;
                }

                await Task.Delay(Settle, cancellationToken);
                await MeasureAsync(rate, string.Create(CultureInfo.InvariantCulture, $"{(refine ? "refine" : "confirm")} {rate:0.##}/s"));
            }
        }
        finally
        {
            sweep.LoadAverage = $"{loadAtStart} at start, {ProcessSampler.LoadAverage()} at end";
            await pool.DisposeAsync();
        }
    }

    private async Task<SweepStep> StepAsync(string target, string name, double rate, double duration, ManagedProcess server, Uri serverUrl, ClientPool pool, RedisPublisher publisher, IReadOnlyList<string> symbols,
        long[] subscribers, long[] finalSeq, Continuity continuity, CancellationToken cancellationToken)
    {
        var result = new ScenarioResult
        {
            Scenario = name,
            Target = target,
            Clients = _options.Clients,
            Symbols = symbols.Count,
        };
        var seqBefore = (long[])finalSeq.Clone();
        var publishedBefore = publisher.Published;
        var latencyBefore = pool.Stats.Latency.Summarize();
        var serverSampler = new ProcessSampler(server.Pid, server.Name);
        var harness = new ProcessSampler(Environment.ProcessId, "harness");
        ProcessSampler[] sampled = [serverSampler, harness];
        var startDelivered = pool.Stats.Delivered;
        var pauses = await GcPauseWindow.StartAsync(target == Targets.SignalStream ? serverUrl : null, cancellationToken);
        var windowStart = FanOutClient.NowMicros;

        using var stopPublishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = PublishWindow.Start(sampled);
        var publishing = Task.Run(() => PublishScenario.PublishAsync(publisher, symbols, finalSeq, rate, stopPublishing.Token), CancellationToken.None);
        var last = await PublishWindow.SampleUntilAsync(watch, duration, () => pool.Stats.Delivered, result.DeliveredSeries, sampled, cancellationToken);
        await stopPublishing.CancelAsync();
        var pacing = await publishing;
        var seconds = watch.Elapsed.TotalSeconds;
        result.Notes.Add(pacing.Describe());
        result.Notes.Add(await pauses.DescribeAsync(seconds, cancellationToken));
        await publisher.FlushAsync(cancellationToken);
        var drained = await PublishScenario.DrainAsync(pool.Clients, symbols, finalSeq, TimeSpan.FromSeconds(Math.Max(10, duration)), cancellationToken);

        result.Notes.Add(pool.Stats.Late.Describe(windowStart, FanOutClient.NowMicros));
        result.DurationSeconds = Math.Round(seconds, 1);
        result.Published = publisher.Published - publishedBefore;
        for (var i = 0; i < symbols.Count; i++)
        {
            result.Expected += (finalSeq[i] - seqBefore[i]) * subscribers[i];
        }

        result.Delivered = pool.Stats.Delivered - startDelivered;
        result.OfferedPerSecond = Math.Round(result.Expected / seconds);
        result.DeliveredPerSecond = Math.Round((last - startDelivered) / seconds);

        // Gaps and duplicates add up over the run: this step's are the growth since the previous step. Missing and lost
        // clients are a state: what is still absent (or gone) at the end of this step's drain.
        PublishScenario.Account(result, pool.Clients, symbols, finalSeq);
        (result.Gaps, continuity.Gaps) = (result.Gaps - continuity.Gaps, result.Gaps);
        (result.Duplicates, continuity.Duplicates) = (result.Duplicates - continuity.Duplicates, result.Duplicates);
        var errors = pool.Stats.Errors;
        (result.Errors, continuity.Errors) = (errors - continuity.Errors, errors);
        if (result.Errors > 0)
        {
            lock (pool.Stats.ErrorSamples)
            {
                result.ErrorSamples = [.. pool.Stats.ErrorSamples];
            }
        }

        var latency = pool.Stats.Latency.Summarize().Since(latencyBefore);
        result.SetLatency(latency);
        result.ServerCpuAveragePercent = Math.Round(serverSampler.AverageCpuPercent, 1);
        result.ServerCpuPeakPercent = serverSampler.CpuPercentSamples.DefaultIfEmpty(0).Max();
        result.ServerRssPeakMb = Math.Round(serverSampler.PeakRssMb, 1);
        result.HarnessCpuAveragePercent = Math.Round(harness.AverageCpuPercent, 1);
        if (!drained)
        {
            result.Notes.Add($"the backlog did not drain within {Math.Max(10, duration):0} s after publishing stopped");
        }

        return new SweepStep { Rate = rate, Result = result, Drained = drained };
    }

    /// <summary>The run's running totals at the end of the previous step.</summary>
    private sealed class Continuity
    {
        public long Gaps { get; set; }

        public long Duplicates { get; set; }

        public long Errors { get; set; }
    }
}
