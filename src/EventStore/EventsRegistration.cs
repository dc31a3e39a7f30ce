using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Engine;
using SignalStream.Engine.Signals;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using SignalStream.EventStore.Marten;
using SignalStream.EventStore.Postgres;
using SignalStream.Hosting;

namespace SignalStream.EventStore;

/// <summary>Registers the event store provider, the event writer and projections.</summary>
public static class EventsRegistration
{
    /// <summary>
    /// Adds the event store chosen by <c>Storage:Provider</c> (<c>file</c>, <c>postgres</c> or <c>marten</c>), the event writer as the
    /// <see cref="IDurableEngineOutput"/>, <see cref="ISignalHistory"/> / <see cref="ISignalSequence"/>, the projector,
    /// and the <c>event-store</c> readiness check.
    /// </summary>
    public static IServiceCollection AddSignalStreamEvents(this IServiceCollection services, IConfiguration configuration) =>
        services.AddSignalStreamEvents(configuration, streamNamespace: null);

    /// <summary>
    /// As <see cref="AddSignalStreamEvents(IServiceCollection, IConfiguration)"/>, with every stream the writer appends
    /// to and <see cref="ISignalHistory"/> reads from under <paramref name="streamNamespace"/> (<c>{ns}/signals-BTCUSDT</c>):
    /// a replay's target. With a namespace the live projector is not registered (a replay does not serve reads).
    /// </summary>
    public static IServiceCollection AddSignalStreamEvents(this IServiceCollection services, IConfiguration configuration, string? streamNamespace)
    {
        if (streamNamespace is not null && !EventNamespace.IsValid(streamNamespace))
        {
            throw new ArgumentException(EventNamespace.Rule(streamNamespace), nameof(streamNamespace));
        }

        services.AddSingleton(new EventNamespace(streamNamespace));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddOptions<StorageOptions>()
            .Bind(configuration.GetSection(StorageOptions.Section))
            .PostConfigure(o => o.Postgres.ConnectionString ??= configuration.GetConnectionString("Postgres"))
            .ValidateOnStart(StorageOptionsValidator.Validate);

        // A replay (a namespace) keeps its own journal; only the live store projects the live streams.
        var storage = configuration.GetSection(StorageOptions.Section);
        var martenProjection = streamNamespace is null && IsMarten(storage["Provider"]) && storage.GetValue("Marten:PerformanceProjection", true);
        services.AddSingleton<IEventStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            if (IsMarten(options))
            {
                var logger = sp.GetRequiredService<ILogger<MartenEventStore>>();
                return new MartenEventStore(
                    EventStoreDataSource.Create(options.Postgres.ConnectionString!),
                    options.Marten,
                    logger,
                    ownsDataSource: true,
                    configure: martenProjection ? marten => PerformanceProjection.Register(marten, logger) : null);
            }

            return IsPostgres(options)
                ? new PostgresEventStore(
                    EventStoreDataSource.Create(options.Postgres.ConnectionString!),
                    options.Postgres,
                    sp.GetRequiredService<ILogger<PostgresEventStore>>(),
                    ownsDataSource: true)
                : new FileEventStore(
                    options.File,
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<FileEventStore>>(),
                    sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        });

        services.AddSingleton<CommitSignal>();
        services.TryAddSingleton<CandleWatermarks>();
        services.AddSingleton(sp => new EventWriter(
            sp.GetRequiredService<IEventStore>(),
            sp.GetRequiredService<IOptions<StorageOptions>>().Value.Writer,
            sp.GetRequiredService<CommitSignal>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetRequiredService<ILogger<EventWriter>>(),
            sp.GetRequiredService<CandleWatermarks>(),
            streamNamespace,
            sp.GetService<EventHandOff>()));

        // EngineOutputs takes the durable output by its own type, not by its place among the publishers.
        services.AddSingleton<IDurableEngineOutput>(sp => sp.GetRequiredService<EventWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<EventWriter>());

        services.AddSingleton<SignalHistory>();
        services.AddSingleton<ISignalHistory>(sp => sp.GetRequiredService<SignalHistory>());
        services.AddSingleton<ISignalSequence>(sp => sp.GetRequiredService<SignalHistory>());

        services.AddSingleton<EventProjections>();
        if (streamNamespace is null)
        {
            // Only beside a projector: nothing else would take what the writer hands off.
            services.AddSingleton<EventHandOff>();
            services.AddHostedService<EventProjector>();
        }

        if (martenProjection)
        {
            services.AddMartenPerformanceProjection();
        }

        services.AddHealthChecks().AddCheck<EventStoreHealthCheck>("event-store", tags: ["ready"]);
        return services;
    }

    /// <summary>
    /// Opens an existing file journal read-only, for a tool that reads it beside the node that owns it (the replay): no
    /// lock, nothing written, appends refused; it holds what was committed when <see cref="IEventStore.InitializeAsync"/>
    /// ran. The store is <see cref="IAsyncDisposable"/>: dispose it to close its files.
    /// </summary>
    public static IEventStore OpenFileJournalReadOnly(string path, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        return FileEventStore.OpenReadOnly(new FileJournalOptions { Path = path }, TimeProvider.System, loggerFactory.CreateLogger<FileEventStore>());
    }

    internal static bool IsPostgres(StorageOptions options) => string.Equals(options.Provider, "postgres", StringComparison.OrdinalIgnoreCase);

    internal static bool IsMarten(StorageOptions options) => IsMarten(options.Provider);

    internal static bool IsMarten(string? provider) => string.Equals(provider, "marten", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Checks <see cref="StorageOptions"/> at start, with messages that say how to fix them.</summary>
internal static class StorageOptionsValidator
{
    /// <summary>Past this the window would hold gigabytes: a caller needing more needs PostgreSQL's on-disk index.</summary>
    private const int MaxDeduplicationWindowEvents = 50_000_000;

    public static List<string> Validate(StorageOptions options)
    {
        var errors = new List<string>();
        var isMarten = EventsRegistration.IsMarten(options);
        var isPostgres = EventsRegistration.IsPostgres(options) || isMarten;
        if (!isPostgres && !string.Equals(options.Provider, "file", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Storage:Provider '{options.Provider}' is unknown: use 'file' (embedded journal), 'postgres' or 'marten'.");
        }

        if (isPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.Postgres.ConnectionString))
            {
                errors.Add($"Storage:Provider is '{options.Provider}' but ConnectionStrings:Postgres is empty: set it (for example ConnectionStrings__Postgres='Host=…;Username=…;Database=…') or use Storage:Provider=file.");
            }
            else
            {
                try
                {
                    _ = new Npgsql.NpgsqlConnectionStringBuilder(options.Postgres.ConnectionString);
                }
                catch (ArgumentException ex)
                {
                    errors.Add($"ConnectionStrings:Postgres does not parse: {ex.Message}");
                }
            }

            if (isMarten && !SqlEventStore.IsValidSchemaName(options.Marten.Schema))
            {
                errors.Add($"Storage:Marten:Schema '{options.Marten.Schema}' must be a plain identifier: lower-case letters, digits and '_', at most 63 characters, not starting with a digit.");
            }

            if (!isMarten && !SqlEventStore.IsValidSchemaName(options.Postgres.Schema))
            {
                errors.Add($"Storage:Postgres:Schema '{options.Postgres.Schema}' must be a plain identifier: lower-case letters, digits and '_', at most 63 characters, not starting with a digit.");
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(options.File.Path))
            {
                errors.Add("Storage:File:Path is empty: set the journal folder (default ./data).");
            }

            if (options.File.SegmentSizeBytes < 64 * 1024)
            {
                errors.Add($"Storage:File:SegmentSizeBytes {options.File.SegmentSizeBytes} is too small: use at least 65536 (default 67108864).");
            }

            if (options.File.RetentionMaxSegments < 0)
            {
                errors.Add("Storage:File:RetentionMaxSegments must be 0 (keep all) or positive.");
            }

            if (options.File.SegmentSizeBytes > int.MaxValue)
            {
                errors.Add($"Storage:File:SegmentSizeBytes {options.File.SegmentSizeBytes} is too large: use at most 2147483647 (default 67108864); a segment is read whole at open.");
            }

            if (options.File.RetentionMaxAge is { } age && age <= TimeSpan.Zero)
            {
                errors.Add("Storage:File:RetentionMaxAge must be positive (for example 30.00:00:00) or unset.");
            }

            if (options.File.DeduplicationWindowEvents < options.Writer.MaxBatchSize || options.File.DeduplicationWindowEvents > MaxDeduplicationWindowEvents)
            {
                errors.Add($"Storage:File:DeduplicationWindowEvents {options.File.DeduplicationWindowEvents} must be between Storage:Writer:MaxBatchSize ({options.Writer.MaxBatchSize}: " +
                    $"a re-sent group must fit in it whole) and {MaxDeduplicationWindowEvents} (~24 bytes of memory each; default {FileJournalOptions.DefaultDeduplicationWindowEvents}).");
            }
        }

        var w = options.Writer;
        if (w.MaxBatchSize is < 1 or > 100_000)
        {
            errors.Add($"Storage:Writer:MaxBatchSize {w.MaxBatchSize} must be between 1 and 100000.");
        }

        if (w.MaxDelay < TimeSpan.Zero || w.MaxDelay > TimeSpan.FromSeconds(1))
        {
            errors.Add($"Storage:Writer:MaxDelay {w.MaxDelay} must be between 0 and 1 s (a few ms is typical).");
        }

        if (w.CommitLanes is < 1 or > 64)
        {
            errors.Add($"Storage:Writer:CommitLanes {w.CommitLanes} must be between 1 and 64 (default 4; 1 commits one group at a time).");
        }

        if (w.BufferCapacity < w.MaxBatchSize)
        {
            errors.Add($"Storage:Writer:BufferCapacity {w.BufferCapacity} must be at least Storage:Writer:MaxBatchSize ({w.MaxBatchSize}).");
        }

        if (w.BufferBytes < 1024 * 1024)
        {
            errors.Add($"Storage:Writer:BufferBytes {w.BufferBytes} must be at least 1048576 (1 MiB; default 268435456): the outage buffer must hold a group commit's worth of events.");
        }

        if (w.RetryInitialDelay <= TimeSpan.Zero || w.RetryMaxDelay < w.RetryInitialDelay)
        {
            errors.Add("Storage:Writer:RetryInitialDelay must be positive and not above Storage:Writer:RetryMaxDelay.");
        }

        if (w.ShutdownTimeout <= TimeSpan.Zero)
        {
            errors.Add("Storage:Writer:ShutdownTimeout must be positive.");
        }

        return errors;
    }
}
