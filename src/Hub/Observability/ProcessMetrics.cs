using System.Diagnostics.CodeAnalysis;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.InteropServices;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Observability;

/// <summary>
/// Process-level series an operator joins other metrics against: which build runs, which roles this node has, and
/// when it started (a reset in <c>signalstream_process_start_time_seconds</c> explains counter resets).
/// Stage metrics live with their stages; this meter only describes the process. A hosted service only so that the host
/// creates it at start: its series exist from the first scrape.
/// </summary>
internal sealed class ProcessMetrics : IHostedService
{
    public const string MeterName = "SignalStream.Process";

    private readonly Measurement<int>[] _buildInfo;
    private readonly Measurement<int>[] _roles;
    private readonly double _startTimeSeconds;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public ProcessMetrics(IMeterFactory meterFactory, NodeRoles roles)
    {
        var assembly = typeof(ProcessMetrics).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
        _buildInfo = [new Measurement<int>(1, new("version", version), new("runtime", RuntimeInformation.FrameworkDescription))];
        // Every role is reported (0 or 1) so "which nodes serve clients" is a plain selector, not an absent() puzzle.
        _roles =
        [
            new Measurement<int>(roles.RunsEngine ? 1 : 0, new KeyValuePair<string, object?>("role", "engine")),
            new Measurement<int>(roles.RunsEngine ? 1 : 0, new KeyValuePair<string, object?>("role", "ingest")),
            new Measurement<int>(roles.ServesClients ? 1 : 0, new KeyValuePair<string, object?>("role", "hub")),
        ];
        using (var process = Process.GetCurrentProcess())
        {
            _startTimeSeconds = new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        }

        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("signalstream_build_info", () => _buildInfo,
            description: "Always 1; the labels name the server version and the .NET runtime.");
        meter.CreateObservableGauge("signalstream_node_roles", () => _roles,
            description: "1 for each role this node runs (Node:Roles), 0 for the others.");
        meter.CreateObservableGauge("signalstream_process_start_time_seconds", () => _startTimeSeconds,
            description: "Start time of the process since the Unix epoch, in seconds.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
