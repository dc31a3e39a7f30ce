using System.Diagnostics.CodeAnalysis;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// The node's hosted services in one explicit order: the stages the composition root lists (<see cref="NodeStages"/>),
/// started one after another — a stage's services each finish <see cref="IHostedService.StartAsync"/> before the next
/// one starts — and stopped in reverse. It is the one hosted service the root registers for them, so the order is the
/// root's list, not the order in which registrations happened to reach DI.
/// </summary>
internal sealed partial class NodeStartup : IHostedService
{
    private readonly (string Stage, IHostedService Service)[] _parts;
    private readonly ILogger<NodeStartup> _logger;
    private readonly Stack<(string Stage, IHostedService Service)> _started = new();

    public NodeStartup(IEnumerable<(string Stage, IHostedService Service)> parts, ILogger<NodeStartup> logger)
    {
        _parts = [.. parts];
        _logger = logger;
    }

    /// <summary>The start order: each stage's name and service, first to last (stopping runs it backwards).</summary>
    public IReadOnlyList<(string Stage, IHostedService Service)> Order => _parts;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var part in _parts)
        {
            Log.Starting(_logger, part.Stage, part.Service.GetType().Name);
            await part.Service.StartAsync(cancellationToken).ConfigureAwait(false);
            _started.Push(part);
        }
    }

    /// <summary>Stops what started, last first; a part that fails to stop does not keep the others running.</summary>
    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Every failure is collected and rethrown together after the other parts stopped (see the catch).")]
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        while (_started.TryPop(out var part))
        {
            try
            {
                await part.Service.StopAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Collected and rethrown below, as the host does for its own list: every other part still stops.
                (failures ??= []).Add(ex);
            }
        }

        if (failures is not null)
        {
            throw new AggregateException("Some of the node's services failed to stop.", failures);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5910, Level = LogLevel.Debug, Message = "Starting {Stage}: {Service}")]
        public static partial void Starting(ILogger logger, string stage, string service);
    }
}
