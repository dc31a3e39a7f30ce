using System.Collections.Concurrent;
using System.Diagnostics;

namespace SignalStream.EventStore.Tests.Crash;

/// <summary>
/// A real SignalStream node in its own process: the server executable built next to these tests
/// (<c>dotnet SignalStream.Hub.dll</c>), the simulated market at 600× (a 1m candle every 0.1 s), the bundled models
/// with loose decision rules so that signals flow, on a loopback port it picks itself. <see cref="Kill"/> is SIGKILL.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    public static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NodeProcess(Process process) => _process = process;

    public Uri Address { get; private set; } = null!;

    public int Pid => _process.Id;

    public bool IsRunning => !_process.HasExited;

    /// <summary>The node's console output (its warnings and errors), for a failing test's message.</summary>
    public string Log => string.Join('\n', _log.TakeLast(80));

    public static async Task<NodeProcess> StartAsync(params string[] storage)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SignalStream.Hub.dll"));
        foreach (var argument in (string[])
        [
            "--urls=http://127.0.0.1:0",
            "--Node:Roles=all",
            "--Ingest:Source=simulated",
            "--Ingest:Simulated:Speed=600",
            "--Ingest:Symbols=" + string.Join(',', Symbols),
            "--Ingest:Timeframes=1m,5m",
            "--Signals:MinVoteScore=0.34",
            "--Signals:MinVoteMargin=0",
            "--Signals:RequireFamilyAgreement=false",
            "--Signals:MinRiskReward=0.1",
            "--Signals:ExpiryCandles=4",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            .. storage,
        ])
        {
            start.ArgumentList.Add(argument);
        }

        var node = new NodeProcess(Process.Start(start)!);
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        var exited = node._process.WaitForExitAsync();
        if (await Task.WhenAny(node._listening.Task, exited).WaitAsync(StartTimeout) == exited)
        {
            // WaitForExitAsync also waited for the end of its output: the log is complete.
            throw new NodeExitedException(node._process.ExitCode, node.Log);
        }

        node.Address = await node._listening.Task;
        return node;
    }

    /// <summary>SIGKILL: no shutdown, no drain, no flush; whatever was not committed is gone.</summary>
    public void Kill() => _process.Kill();

    public async Task KillAsync()
    {
        Kill();
        await WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 500 && _log.TryDequeue(out _))
        {
            // Only the last lines are ever shown.
        }

        const string listening = "Now listening on: ";
        var at = line.IndexOf(listening, StringComparison.Ordinal);
        if (at >= 0)
        {
            _listening.TrySetResult(new Uri(line[(at + listening.Length)..].Trim()));
        }
    }
}

/// <summary>The node ended before it listened: its exit code and console output.</summary>
internal sealed class NodeExitedException(int exitCode, string log)
    : Exception($"the node exited during start with code {exitCode}:\n{log}")
{
    public int ExitCode { get; } = exitCode;

    public string Log { get; } = log;
}
