using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.EventStore;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// The signal store as clients' requests and the fan-out read it: every read is bounded by
/// <see cref="SignalHistoryOptions.ReadTimeout"/>, and a store that fails or does not answer becomes a
/// <see cref="SignalHistoryUnavailableException"/> whose message is meant for the client.
/// </summary>
/// <remarks>
/// The caller is released at the deadline even when the store's driver is not (Npgsql cancels a command by sending a
/// cancel request over a new connection, which an unreachable server does not answer either); the abandoned read still
/// sees the cancellation and ends on its own, and its failure is observed here.
/// </remarks>
internal sealed partial class SignalHistoryReader
{
    /// <summary>Every message of a <see cref="SignalHistoryUnavailableException"/> starts with this: a client may retry.</summary>
    public const string UnavailablePrefix = "signal history is unavailable: ";

    private static readonly KeyValuePair<string, object?> TimedOut = new("reason", "timeout");
    private static readonly KeyValuePair<string, object?> Failed = new("reason", "error");

    private readonly ISignalHistory? _history;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Counter<long> _unavailable;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public SignalHistoryReader(
        ISignalHistory? history, IOptions<SignalHistoryOptions> options, TimeProvider time, IMeterFactory meterFactory, ILogger<SignalHistoryReader> logger)
    {
        _history = history;
        _time = time;
        _logger = logger;
        Timeout = options.Value.ReadTimeout;
        _unavailable = meterFactory.Create(HubMetrics.MeterName).CreateCounter<long>("signalstream_history_reads_failed_total",
            description: "Signal-store reads for clients, catch-up or hole repair that failed or took longer than Hub:History:ReadTimeout, by reason.");
    }

    /// <summary>False on a node without a signal store; every read then throws.</summary>
    public bool HasStore => _history is not null;

    public TimeSpan Timeout { get; }

    public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken) =>
        ReadAsync(symbol, static (history, symbol, _, _, ct) => history.GetLastSeqAsync(symbol, ct), 0, 0, cancellationToken);

    /// <summary>Signals with seq &gt; <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        // Nothing comes after the largest seq, and asking the store for afterSeq + 1 would overflow.
        if (afterSeq == long.MaxValue || limit <= 0)
        {
            return ValueTask.FromResult<IReadOnlyList<Signal>>([]);
        }

        return ReadAsync(symbol, static (history, symbol, after, limit, ct) => history.ReadSignalsAsync(symbol, after, limit, ct),
            Math.Max(afterSeq, 0), limit, cancellationToken);
    }

    public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken) =>
        ReadAsync(symbol, static (history, symbol, _, _, ct) => history.GetLastOutcomeSeqAsync(symbol, ct), 0, 0, cancellationToken);

    /// <summary>Outcomes with outcomeSeq &gt; <paramref name="afterOutcomeSeq"/>, oldest first, from at most <paramref name="limit"/> stored.</summary>
    public ValueTask<IReadOnlyList<SignalOutcome>> ReadOutcomesAsync(string symbol, long afterOutcomeSeq, int limit, CancellationToken cancellationToken)
    {
        if (afterOutcomeSeq == long.MaxValue || limit <= 0)
        {
            return ValueTask.FromResult<IReadOnlyList<SignalOutcome>>([]);
        }

        return ReadAsync(symbol, static (history, symbol, after, limit, ct) => history.ReadOutcomesAsync(symbol, after, limit, ct),
            Math.Max(afterOutcomeSeq, 0), limit, cancellationToken);
    }

    /// <summary>Stored closed candles with openTime &gt; <paramref name="afterOpenTime"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public ValueTask<IReadOnlyList<Candle>> ReadCandlesAsync(StreamKey stream, long afterOpenTime, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return ValueTask.FromResult<IReadOnlyList<Candle>>([]);
        }

        // A REST request's read, not a per-message one: the closure carrying the timeframe is not worth avoiding.
        return ReadAsync(stream.Symbol, (history, _, after, limit, ct) => history.ReadCandlesAsync(stream, after, limit, ct),
            afterOpenTime, limit, cancellationToken);
    }

    public ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken) =>
        ReadAsync(symbol, static (history, symbol, _, _, ct) => history.ReadLatestSignalsAsync(symbol, ct), 0, 0, cancellationToken);

    /// <summary>The exception a caller gives its client when it could not wait for the symbol's delivery lock.</summary>
    public SignalHistoryUnavailableException DeliveryBusy(string symbol) => new(
        $"{UnavailablePrefix}{symbol}'s delivery has been waiting on the signal store for more than {Seconds(Timeout)}; retry in a few seconds.");

    private async ValueTask<T> ReadAsync<T>(
        string symbol,
        Func<ISignalHistory, string, long, int, CancellationToken, ValueTask<T>> read,
        long afterSeq,
        int limit,
        CancellationToken cancellationToken)
    {
        var history = _history ?? throw new SignalHistoryUnavailableException(
            $"{UnavailablePrefix}this node has no signal store (Storage:Provider).");
        using var deadline = new CancellationTokenSource(Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        Task<T>? pending = null;
        try
        {
            pending = read(history, symbol, afterSeq, limit, linked.Token).AsTask();
            return await pending.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Observe(pending);
            _unavailable.Add(1, TimedOut);
            Log.ReadTimedOut(_logger, symbol, Timeout);
            throw new SignalHistoryUnavailableException(
                $"{UnavailablePrefix}the signal store did not answer within {Seconds(Timeout)}; retry in a few seconds.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SignalHistoryUnavailableException)
        {
            _unavailable.Add(1, Failed);
            Log.ReadFailed(_logger, ex, symbol);
            throw new SignalHistoryUnavailableException(
                $"{UnavailablePrefix}reading the signal store failed; retry in a few seconds.", ex);
        }
    }

    private static void Observe(Task? abandoned) =>
        abandoned?.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static partial class Log
    {
        [LoggerMessage(5220, LogLevel.Warning, "Reading {Symbol} from the signal store did not finish within {Timeout}; the caller was told the history is unavailable")]
        public static partial void ReadTimedOut(ILogger logger, string symbol, TimeSpan timeout);

        [LoggerMessage(5221, LogLevel.Warning, "Reading {Symbol} from the signal store failed; the caller was told the history is unavailable")]
        public static partial void ReadFailed(ILogger logger, Exception exception, string symbol);
    }
}

/// <summary>The signal store failed or did not answer in time; the message is for the client and says to retry.</summary>
internal sealed class SignalHistoryUnavailableException : Exception
{
    public SignalHistoryUnavailableException(string message)
        : base(message)
    {
    }

    public SignalHistoryUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
