using SignalStream.EventStore;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Notifications;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// The host's shutdown timeout: one deadline shared by every stage's stop, so it must cover the event writer's own
/// (<c>Storage:Writer:ShutdownTimeout</c>) plus what the stages stopped before the writer may take. The Generic Host's
/// 30 s default cut a writer allowed longer off at 30 s, less what those stages had used, dropping buffered events.
/// </summary>
internal static class ShutdownBudget
{
    /// <summary>
    /// For what has no budget of its own before the writer stops: Kestrel's stop, the engine's drain of what ingest
    /// queued, model batches in flight, the projector.
    /// </summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(15);

    /// <summary>A CancellationTokenSource's delay ends at about 24.8 days; nobody waits a day for a node to stop.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(1);

    /// <summary>The larger of <paramref name="configured"/> (the host's, <c>shutdownTimeoutSeconds</c>) and the stages' sum.</summary>
    public static TimeSpan Of(IConfiguration configuration, TimeSpan configured)
    {
        var writer = configuration.GetSection(StorageOptions.Section + ":Writer").Get<EventWriterOptions>() ?? new();
        var hub = configuration.GetSection(SignalHubOptions.SectionName).Get<SignalHubOptions>() ?? new();

        // Stopped before the writer, in order: the hub's connections drain at ApplicationStopping and again in their
        // stop, then the symbol feeds (Hub:ShutdownDrainTimeout each); the notification sinks' last records.
        var seconds = writer.ShutdownTimeout.TotalSeconds
                      + (3 * hub.ShutdownDrainTimeout.TotalSeconds)
                      + NotificationService.StopTimeout.TotalSeconds
                      + Margin.TotalSeconds;
        var needed = TimeSpan.FromSeconds(Math.Clamp(seconds, 0, Longest.TotalSeconds));
        return configured > needed ? configured : needed;
    }
}
