using System.Diagnostics;
using SignalStream.Contracts;

namespace SignalStream.Engine.Tracing;

/// <summary>
/// The <see cref="ActivitySource"/> that traces a closed candle's way through the node: one trace a candle, with spans
/// <c>ingest</c>, <c>features</c>, <c>inference</c>, <c>decision</c>, and for each signal it yields <c>store</c> (queued
/// until its group commit is acknowledged) and <c>publish</c>; the store's commits are <c>store commit</c> spans that
/// hold PostgreSQL's own (Npgsql's instrumentation). docs/operations.md, "Tracing", says how to export them.
/// </summary>
/// <remarks>
/// Off unless a listener samples this source (the host adds one only when <c>Tracing:OtlpEndpoint</c> is set): every
/// call site asks <see cref="IsOn"/> first, so the hot path pays one read and allocates nothing. The spans never become
/// <see cref="Activity.Current"/> of the loops that start them: a loop serves every stream, and the next candle must not
/// become a child of this one.
/// </remarks>
public static class SignalStreamTracing
{
    /// <summary>The source's name, to add to a tracer (<c>AddSource</c>).</summary>
    public const string SourceName = "SignalStream";

    public static readonly ActivitySource Source = new(SourceName, typeof(SignalStreamTracing).Assembly.GetName().Version?.ToString());

    /// <summary>True when someone listens: only then are spans made.</summary>
    public static bool IsOn => Source.HasListeners();

    /// <summary>The root span of a closed candle's trace, from when ingest received its frame.</summary>
    internal static Activity? StartCandle(in CandleUpdate update)
    {
        var received = DateTimeOffset.FromUnixTimeMilliseconds(update.ReceivedAt);
        var candle = StartDetached("candle", default, received);
        if (candle is { IsAllDataRequested: true })
        {
            candle.SetTag("signalstream.symbol", update.Candle.Symbol);
            candle.SetTag("signalstream.timeframe", update.Candle.Timeframe.ToName());
            candle.SetTag("signalstream.exchange", update.Exchange);
            candle.SetTag("signalstream.origin", update.Origin.ToString());
            candle.SetTag("signalstream.candle.open_time", update.Candle.OpenTime);
            candle.SetTag("signalstream.exchange_lag_ms", update.ReceivedAt - update.EventTime);
        }

        // From the frame's arrival to the engine taking it: parsing and the ingest channel's queue.
        StopDetached(StartDetached("ingest", candle?.Context ?? default, received));
        return candle;
    }

    /// <summary>A span under <paramref name="parent"/> that does not become the caller's current activity.</summary>
    internal static Activity? StartDetached(string name, ActivityContext parent, DateTimeOffset startTime = default)
    {
        var previous = Activity.Current;
        Activity.Current = null; // a default parent means "no parent", never "whatever is current here"
        var activity = Source.StartActivity(name, ActivityKind.Internal, parent, startTime: startTime);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>Stops a detached span without touching the caller's current activity.</summary>
    internal static void StopDetached(Activity? activity)
    {
        if (activity is null)
        {
            return;
        }

        var previous = Activity.Current;
        activity.Stop();
        Activity.Current = previous;
    }
}
