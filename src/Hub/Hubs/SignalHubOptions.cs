namespace SignalStream.Hub.Hubs;

/// <summary>The <c>Hub</c> configuration section: limits and fan-out tuning, resolved once and validated at start.</summary>
public sealed class SignalHubOptions
{
    public const string SectionName = "Hub";

    /// <summary>
    /// Connections this node serves at once, counted from the upgrade request (before the SignalR handshake); more are
    /// refused with 503 and a reason.
    /// </summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Connections one client address may hold at once (0: no cap); more are refused with 429. An IPv6 client is
    /// counted by its /64 (one host holds a whole /64), an IPv4-mapped address as its IPv4 address.</summary>
    /// <remarks>Behind a proxy every client has the proxy's address: raise it, or set 0, unless forwarded headers are applied.</remarks>
    public int MaxConnectionsPerIp { get; set; } = 200;

    /// <summary>Connections one token subject (the JWT <c>sub</c>) may hold at once (0: no cap); more are refused with 429.</summary>
    public int MaxConnectionsPerSubject { get; set; } = 50;

    /// <summary>
    /// Negotiate requests one client (its token's subject, else its address, IPv6 by /64) may make per second, sustained
    /// (0: no limit); past it and <see cref="NegotiateBurst"/>, 429. Each negotiate makes SignalR hold a connection for up
    /// to 15 s while it waits for the client to connect, counted by no other cap.
    /// </summary>
    public int NegotiatesPerSecond { get; set; } = 10;

    /// <summary>Negotiate requests one client may make at once: room to (re)open every connection
    /// <see cref="MaxConnectionsPerIp"/> allows in one go.</summary>
    public int NegotiateBurst { get; set; } = 200;

    /// <summary>
    /// Connect requests (WebSocket upgrades, Server-Sent Events streams) one client (its token's subject, else its address,
    /// IPv6 by /64) may make per second, sustained (0: no limit); past it and <see cref="ConnectBurst"/>, 429. Each connect
    /// gets a fresh invocation budget, so without it a client could spend a new burst of calls on every reconnect.
    /// </summary>
    public int ConnectsPerSecond { get; set; } = 10;

    /// <summary>Connect requests one client may make at once: room to (re)open every connection
    /// <see cref="MaxConnectionsPerIp"/> allows in one go.</summary>
    public int ConnectBurst { get; set; } = 200;

    /// <summary>
    /// How long a client (as <see cref="ConnectsPerSecond"/> counts it) is refused new connections, with 429, after one of
    /// its connections was closed for invocation flooding or cut off as a slow consumer (zero: never).
    /// </summary>
    public TimeSpan ReconnectPenalty { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a connection may take from its upgrade request to the end of the SignalR handshake (also SignalR's own
    /// <c>HandshakeTimeout</c>); a connection that has not finished by then is dropped.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Signal plus candle subscriptions one connection may hold (a token's <c>max_subscriptions</c> may lower it).</summary>
    public int MaxSubscriptionsPerConnection { get; set; } = 50;

    /// <summary>Largest client-to-server message in bytes (SignalR's <c>MaximumReceiveMessageSize</c>).</summary>
    public int MaxMessageBytes { get; set; } = 32 * 1024;

    /// <summary>Sustained hub invocations per second per connection (token bucket refill rate).</summary>
    public double InvocationsPerSecond { get; set; } = 20;

    /// <summary>Hub invocations a connection may make in a burst (token bucket capacity).</summary>
    public int InvocationBurst { get; set; } = 40;

    /// <summary>
    /// Messages that may wait for one connection's transport (a memory bound: frames are shared, an entry is a reference
    /// and a timestamp); a connection past it is a slow consumer and is cut off.
    /// </summary>
    public int OutboundQueueLimit { get; set; } = 8192;

    /// <summary>
    /// Bytes that may wait for one connection's transport, fan-out messages and SignalR's own replies (completions,
    /// errors, pings) alike; a connection past it is cut off with a close message that says so.
    /// </summary>
    /// <remarks>Room for the largest legitimate reply: a resume of <see cref="MaxRecoverySignals"/> signals is about 1 MB.</remarks>
    public int OutboundQueueBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// What all connections' outbound queues may hold together, in bytes (0: no bound but each queue's own). Past it,
    /// the once-a-second sweep cuts the connections holding the most until the total is back under: each queue is
    /// bounded by <see cref="OutboundQueueBytes"/>, but their sum is otherwise the connection count times that bound.
    /// </summary>
    public long MaxQueuedBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// The most all of one client address's connections may hold queued together (0: no per-address bound), counted as
    /// <see cref="MaxConnectionsPerIp"/> counts addresses: past it the sweep cuts that address's connections holding the
    /// most. Without it one address could hold <see cref="MaxConnectionsPerIp"/> × <see cref="OutboundQueueBytes"/> of the
    /// node's memory (800 MiB with the defaults) and, with <see cref="MaxQueuedBytes"/>, crowd every other client out.
    /// </summary>
    public long MaxQueuedBytesPerIp { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a connection's transport may take nothing while a message waits for it; a connection stalled longer is
    /// not reading and is cut off with a close message that says so (reconnect allowed, to resume by afterSeq).
    /// </summary>
    public TimeSpan SlowConsumerMaxLag { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether the node writes WebSocket clients' sockets itself (one non-blocking send per message, on the fan-out
    /// thread) instead of through SignalR's pipes; applies to plain-TCP WebSockets on Linux, others always use SignalR's.
    /// </summary>
    public bool DirectSocketSends { get; set; } = true;

    /// <summary>
    /// The SignalR hub protocols clients may choose in their handshake, comma-separated: <c>json</c>, <c>messagepack</c>
    /// (both by default). A client asking for another gets SignalR's handshake error naming the protocol.
    /// </summary>
    public string Protocols { get; set; } = "json,messagepack";

    /// <summary>Recent signals kept per symbol in memory for resume without a store read.</summary>
    public int RecentSignalsPerSymbol { get; set; } = 1024;

    /// <summary>Most signals a resume (<c>afterSeq</c>) returns; beyond it <c>recovered</c> is false.</summary>
    public int MaxRecoverySignals { get; set; } = 1000;

    /// <summary>How often a node compares its delivered seq with the store to find signals lost at the tail.</summary>
    public TimeSpan CatchUpInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay before re-reading the store for a hole's signals (doubles up to one second).</summary>
    public TimeSpan HoleRetryDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a hole may wait for the store before the node delivers past it (and logs an error).</summary>
    public TimeSpan HoleRepairTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Messages a symbol's inbound queue holds; a full queue drops bus messages, which hole repair recovers.</summary>
    public int InboundQueueLimit { get; set; } = 4096;

    /// <summary>How long shutdown waits for clients to receive their queued messages and the close.</summary>
    public TimeSpan ShutdownDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Redis channel prefix: signals of a symbol go to <c>{prefix}:{SYMBOL}</c>.</summary>
    public string RedisChannelPrefix { get; set; } = "signalstream";

    public CorsSettings Cors { get; set; } = new();

    /// <summary>The <c>Hub:Cors</c> section.</summary>
    public sealed class CorsSettings
    {
        /// <summary>Origins browsers may connect from (for example <c>https://app.example.com</c>); empty: no CORS.</summary>
        public List<string> Origins { get; set; } = [];
    }

    /// <summary><see cref="Protocols"/> as a set, each named once; empty when it names none or an unknown one
    /// (<see cref="Validate"/> says which).</summary>
    internal IReadOnlyList<FanOut.WireProtocol> EnabledProtocols
    {
        get
        {
            var enabled = new List<FanOut.WireProtocol>(2);
            foreach (var name in (Protocols ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!FanOut.WireProtocols.TryParse(name.ToLowerInvariant(), out var protocol))
                {
                    return [];
                }

                if (!enabled.Contains(protocol))
                {
                    enabled.Add(protocol);
                }
            }

            return enabled;
        }
    }

    /// <summary>Twice SignalR's transport buffer: the pipe path keeps that much of the bound for SignalR's own pipe.</summary>
    internal const int MinOutboundQueueBytes = 128 * 1024;

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxConnections < 1)
        {
            yield return $"Hub:MaxConnections is {MaxConnections}; it must be at least 1.";
        }

        if (MaxConnectionsPerIp < 0 || MaxConnectionsPerSubject < 0)
        {
            yield return $"Hub:MaxConnectionsPerIp ({MaxConnectionsPerIp}) and Hub:MaxConnectionsPerSubject ({MaxConnectionsPerSubject}) must be 0 (no cap) or more.";
        }

        if (NegotiatesPerSecond is < 0 or > 100_000)
        {
            yield return $"Hub:NegotiatesPerSecond is {NegotiatesPerSecond}; use 0 (no limit) to 100000 negotiate requests per second per client (default 10).";
        }

        if (NegotiateBurst is < 1 or > 1_000_000)
        {
            yield return $"Hub:NegotiateBurst is {NegotiateBurst}; use 1 to 1000000 negotiate requests one client may make at once (default 200).";
        }

        if (ConnectsPerSecond is < 0 or > 100_000)
        {
            yield return $"Hub:ConnectsPerSecond is {ConnectsPerSecond}; use 0 (no limit) to 100000 connect requests per second per client (default 10).";
        }

        if (ConnectBurst is < 1 or > 1_000_000)
        {
            yield return $"Hub:ConnectBurst is {ConnectBurst}; use 1 to 1000000 connect requests one client may make at once (default 200).";
        }

        if (ReconnectPenalty < TimeSpan.Zero || ReconnectPenalty > TimeSpan.FromMinutes(5))
        {
            yield return $"Hub:ReconnectPenalty is {ReconnectPenalty}; it must be from 00:00:00 (off) to 00:05:00 (how long a client closed for flooding or cut off as slow is refused reconnection, for example 00:00:05).";
        }

        if (HandshakeTimeout < TimeSpan.FromMilliseconds(100) || HandshakeTimeout > TimeSpan.FromMinutes(5))
        {
            yield return $"Hub:HandshakeTimeout is {HandshakeTimeout}; it must be from 00:00:00.1 to 00:05:00 (how long a client may take to finish connecting, for example 00:00:05).";
        }

        if (MaxSubscriptionsPerConnection < 1)
        {
            yield return $"Hub:MaxSubscriptionsPerConnection is {MaxSubscriptionsPerConnection}; it must be at least 1.";
        }

        if (MaxMessageBytes < 1024)
        {
            yield return $"Hub:MaxMessageBytes is {MaxMessageBytes}; it must be at least 1024 (a Subscribe call needs a few hundred bytes).";
        }

        if (!(InvocationsPerSecond > 0) || InvocationBurst < 1)
        {
            yield return $"Hub:InvocationsPerSecond ({InvocationsPerSecond}) must be above 0 and Hub:InvocationBurst ({InvocationBurst}) at least 1.";
        }

        if (OutboundQueueLimit < 8)
        {
            yield return $"Hub:OutboundQueueLimit is {OutboundQueueLimit}; it must be at least 8 messages.";
        }

        if (OutboundQueueBytes < MinOutboundQueueBytes)
        {
            yield return $"Hub:OutboundQueueBytes is {OutboundQueueBytes}; it must be at least {MinOutboundQueueBytes} (SignalR's own transport buffer is 64 KB; a resume of Hub:MaxRecoverySignals signals needs about 1 MB).";
        }

        if (MaxQueuedBytes != 0 && MaxQueuedBytes < OutboundQueueBytes)
        {
            yield return $"Hub:MaxQueuedBytes is {MaxQueuedBytes}; it must be 0 (no node-wide bound) or at least Hub:OutboundQueueBytes ({OutboundQueueBytes}), one connection's bound.";
        }

        if (MaxQueuedBytesPerIp != 0 && MaxQueuedBytesPerIp < OutboundQueueBytes)
        {
            yield return $"Hub:MaxQueuedBytesPerIp is {MaxQueuedBytesPerIp}; it must be 0 (no per-address bound) or at least Hub:OutboundQueueBytes ({OutboundQueueBytes}), one connection's bound.";
        }

        if (EnabledProtocols.Count == 0)
        {
            yield return $"Hub:Protocols is '{Protocols}'; list one or more of {string.Join(", ", FanOut.WireProtocols.Names)}, comma-separated (for example json,messagepack).";
        }

        if (RecentSignalsPerSymbol < 1 || MaxRecoverySignals < 1)
        {
            yield return $"Hub:RecentSignalsPerSymbol ({RecentSignalsPerSymbol}) and Hub:MaxRecoverySignals ({MaxRecoverySignals}) must be at least 1.";
        }

        if (InboundQueueLimit < 16)
        {
            yield return $"Hub:InboundQueueLimit is {InboundQueueLimit}; it must be at least 16.";
        }

        if (SlowConsumerMaxLag < TimeSpan.FromMilliseconds(100))
        {
            yield return $"Hub:SlowConsumerMaxLag is {SlowConsumerMaxLag}; it must be at least 00:00:00.1 (how long a client may take no message while one waits, for example 00:00:05).";
        }

        if (CatchUpInterval <= TimeSpan.Zero || HoleRetryDelay <= TimeSpan.Zero || HoleRepairTimeout <= TimeSpan.Zero || ShutdownDrainTimeout < TimeSpan.Zero)
        {
            yield return "Hub:CatchUpInterval, Hub:HoleRetryDelay and Hub:HoleRepairTimeout must be positive durations (for example 00:00:05), Hub:ShutdownDrainTimeout zero or more.";
        }

        if (string.IsNullOrWhiteSpace(RedisChannelPrefix) || RedisChannelPrefix.Contains('*'))
        {
            yield return $"Hub:RedisChannelPrefix is '{RedisChannelPrefix}'; use a plain name such as 'signalstream'.";
        }

        foreach (var origin in Cors.Origins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                yield return $"Hub:Cors:Origins: '{origin}' is not an origin; write scheme, host and port only, for example https://app.example.com.";
            }
        }
    }
}
