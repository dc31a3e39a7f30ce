using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SignalStream.Client;

/// <summary>How a <see cref="SignalStreamClient"/> connects, reconnects and recovers.</summary>
public sealed record SignalStreamClientOptions
{
    /// <summary>Returns the bearer token when the server runs with <c>Auth:Mode=jwt</c>; called on every (re)connect.</summary>
    public Func<Task<string?>>? AccessTokenProvider { get; init; }

    /// <summary>
    /// Waits before each reconnect attempt; the last one repeats forever. Used for SignalR's automatic reconnect and for
    /// the client's own restart when the server closed the connection without allowing a reconnect.
    /// </summary>
    public IReadOnlyList<TimeSpan> ReconnectDelays { get; init; } =
        [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)];

    /// <summary>
    /// Waits between asking again when the server answered a resume with <c>recovered: false</c> (its store lags or is
    /// unavailable). Once they are used up, what is still missing is reported as a <see cref="SignalGap"/>.
    /// </summary>
    public IReadOnlyList<TimeSpan> RecoveryRetryDelays { get; init; } =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500),
        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2),
    ];

    /// <summary>Transports SignalR may use; WebSockets by default (the server's fast path).</summary>
    public HttpTransportType Transports { get; init; } = HttpTransportType.WebSockets;

    /// <summary>Skip the negotiate round trip (WebSockets only).</summary>
    public bool SkipNegotiation { get; init; }

    /// <summary>Where the client and SignalR log (reconnects, gaps, refusals).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Last say over the SignalR connection (protocol, timeouts, handlers for other events).</summary>
    public Action<IHubConnectionBuilder>? ConfigureConnection { get; init; }

    internal void Validate()
    {
        if (ReconnectDelays.Count == 0 || ReconnectDelays.Any(d => d < TimeSpan.Zero))
        {
            throw new ArgumentException("ReconnectDelays must be a non-empty list of waits, each zero or more.", nameof(ReconnectDelays));
        }

        if (RecoveryRetryDelays.Any(d => d < TimeSpan.Zero))
        {
            throw new ArgumentException("RecoveryRetryDelays must be waits of zero or more.", nameof(RecoveryRetryDelays));
        }

        if (SkipNegotiation && Transports != HttpTransportType.WebSockets)
        {
            throw new ArgumentException("SkipNegotiation works only with Transports = WebSockets.", nameof(SkipNegotiation));
        }
    }
}

/// <summary>Which signals of a symbol a subscription wants.</summary>
/// <param name="Timeframes">Only these timeframes (Binance interval names); null or empty for all.</param>
/// <param name="MinConfidence">Only signals with at least this confidence (0–100).</param>
public sealed record SignalFilter(IReadOnlyList<string>? Timeframes = null, double? MinConfidence = null)
{
    /// <summary>Every signal of the symbol.</summary>
    public static SignalFilter All { get; } = new();
}

/// <summary>Callbacks of a signal subscription. They run on the connection's receive path: keep them short.</summary>
public sealed record SignalHandlers
{
    /// <summary>Every matching signal once, in seq order, with no gap.</summary>
    public required Action<SignalDelivery> OnSignal { get; init; }

    /// <summary>Outcomes of the symbol's published signals (matching the timeframe filter); not replayed after a reconnect.</summary>
    public Action<SignalStream.Contracts.SignalOutcome>? OnResolved { get; init; }

    /// <summary>
    /// A <see cref="SignalGapException"/> when missed signals could not be recovered, a
    /// <see cref="SubscriptionRefusedException"/> when the server refused a re-subscribe, or a handler's own exception.
    /// </summary>
    public Action<Exception>? OnError { get; init; }
}
