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
    /// unavailable), for its signals or its outcomes: one retry serves both. Once they are used up, what is still missing
    /// is reported as a <see cref="SignalGap"/> or an <see cref="OutcomeGap"/>.
    /// </summary>
    public IReadOnlyList<TimeSpan> RecoveryRetryDelays { get; init; } =
    [
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500),
        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2),
    ];

    /// <summary>Transports SignalR may use; WebSockets by default (the server's fast path).</summary>
    public HttpTransportType Transports { get; init; } = HttpTransportType.WebSockets;

    /// <summary>
    /// The hub protocol: <see cref="SignalStreamProtocol.Json"/> (default) or <see cref="SignalStreamProtocol.MessagePack"/>
    /// (binary frames; the server must list <c>messagepack</c> in <c>Hub:Protocols</c>, which it does by default).
    /// </summary>
    public SignalStreamProtocol Protocol { get; init; } = SignalStreamProtocol.Json;

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

        if (!Enum.IsDefined(Protocol))
        {
            throw new ArgumentException($"Protocol is {(int)Protocol}; use SignalStreamProtocol.Json or SignalStreamProtocol.MessagePack.", nameof(Protocol));
        }

        if (SkipNegotiation && Transports != HttpTransportType.WebSockets)
        {
            throw new ArgumentException("SkipNegotiation works only with Transports = WebSockets.", nameof(SkipNegotiation));
        }
    }
}
