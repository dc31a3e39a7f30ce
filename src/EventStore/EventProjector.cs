using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Events;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore;

/// <summary>
/// The async projector: follows the store's global order through a high-water-mark reader and applies every event to
/// <see cref="EventProjections"/>; it then releases what it consumed, so file retention may drop it, but never a signal
/// still open (<see cref="OpenSignalFloor"/>).
/// </summary>
/// <remarks>Projections live in memory and are rebuilt from the retained events at start.</remarks>
internal sealed partial class EventProjector(
    IEventStore store,
    EventProjections projections,
    CommitSignal commits,
    TimeProvider time,
    ILogger<EventProjector> logger,
    EventHandOff? handOff = null) : BackgroundService
{
    private const int PageSize = 2000;

    // Candles (the bulk of the events) are only counted: their JSON is not needed, so the store does not render it.
    private static readonly string[] s_dataOf = [EventSerializer.SignalIssuedType, EventSerializer.ShadowSignalIssuedType, EventSerializer.SignalResolvedType];
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long no commit must land before a burst of commits is read back. A burst (a closing bell: thousands of events
    /// within ~100 ms) is read once it is over: nothing a client waits for reads these projections, and reading and
    /// deserializing the bell's signals and outcomes while it was still running took ~18 ms of the node's CPU beside the
    /// signals' path (perf, 2-core machine).
    /// </summary>
    internal TimeSpan Quiet { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The longest a steady stream of commits holds the projections back.</summary>
    internal TimeSpan MaxSettle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long past its expiry an open signal without an outcome still holds file retention back.</summary>
    internal TimeSpan ExpiredSignalGrace { get; init; } = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await store.InitializeAsync(stoppingToken).ConfigureAwait(false);
        await using var reader = store.OpenGlobalReader(projections.Position, s_dataOf);
        var open = new OpenSignalFloor(ExpiredSignalGrace);
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            IReadOnlyList<StoredEvent> page;
            try
            {
                page = await reader.ReadNextAsync(PageSize, stoppingToken).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(100);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.ReadFailed(logger, reader.Position, backoff, ex);
                await Task.Delay(backoff, time, stoppingToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                continue;
            }

            foreach (var stored in page)
            {
                ISignalStreamEvent? @event = null;
                if (ReadsAsObject(stored.Type)
                    && !TakeHandedOff(stored, out @event)
                    && !EventSerializer.TryDeserialize(stored, out @event, out var error))
                {
                    Log.Unreadable(logger, stored.Position, error);
                }

                projections.Apply(stored, @event);
                switch (@event)
                {
                    case SignalIssued { Signal: var signal }:
                        open.Issued(signal, stored.Position);
                        break;
                    case ShadowSignalIssued { Signal: var shadow }:
                        open.Issued(shadow, stored.Position);
                        break;
                    case SignalResolved { Outcome: var outcome }:
                        open.Resolved(outcome.SignalId);
                        break;
                }
            }

            if (page.Count > 0)
            {
                // Consumed, but not past a signal still open: a restart must find it to resolve it.
                store.ReleaseUpTo(open.ReleasableUpTo(reader.Position, time.GetUtcNow().ToUnixTimeMilliseconds()));
            }

            if (page.Count < PageSize && await commits.WaitAsync(s_poll, stoppingToken).ConfigureAwait(false))
            {
                await SettleAsync(stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Whether the projections read events of this stored type as objects (the others they only count).</summary>
    internal static bool ReadsAsObject(string eventType) =>
        eventType is EventSerializer.SignalIssuedType or EventSerializer.ShadowSignalIssuedType or EventSerializer.SignalResolvedType;

    /// <summary>The event as this node's writer committed it, instead of deserializing the bytes it made of it.</summary>
    private bool TakeHandedOff(StoredEvent stored, [NotNullWhen(true)] out ISignalStreamEvent? @event)
    {
        @event = null;
        return handOff is not null && handOff.TryTake(stored.EventId, out @event);
    }

    /// <summary>Waits until no commit has landed for <see cref="Quiet"/>, or <see cref="MaxSettle"/> at most.</summary>
    private async Task SettleAsync(CancellationToken stoppingToken)
    {
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            // Never past MaxSettle, even when Quiet is the longer of the two.
            var left = MaxSettle - Stopwatch.GetElapsedTime(start);
            if (left <= TimeSpan.Zero || !await commits.WaitAsync(left < Quiet ? left : Quiet, stoppingToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4400, LogLevel.Warning, "Projector could not read after position {Position}; retrying in {Delay}")]
        public static partial void ReadFailed(ILogger logger, long position, TimeSpan delay, Exception exception);

        [LoggerMessage(4401, LogLevel.Error, "Projector skipped unreadable event at position {Position}: {Reason}")]
        public static partial void Unreadable(ILogger logger, long position, string reason);
    }
}
