using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using Microsoft.AspNetCore.SignalR;
using SignalStream.PeerSignalR.Internal;
using StackExchange.Redis;

namespace SignalStream.PeerSignalR;

/// <summary>
/// Reads the engine's signals from Redis, one channel per symbol (<c>{prefix}:{SYMBOL}</c>, the channels SignalStream's
/// hub nodes read), and sends each to its symbol's group: <c>Clients.Group(symbol).SendAsync("signal", signal)</c>.
/// </summary>
/// <remarks>
/// Each symbol's channel is an ordered <see cref="ChannelMessageQueue"/> read by one loop that awaits each send, so a
/// symbol's signals reach the backplane in the order they were published. With the Redis backplane every group send is
/// itself a Redis publish, read back by every node (this one included) and written to that node's members of the group.
/// Run one feed per deployment: a feed on each of several nodes would send every signal once per node.
/// </remarks>
[SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Created by the container (AddSingleton in Program.cs).")]
internal sealed class SignalFeed(PeerOptions options, IHubContext<SignalHub> hub, ILogger<SignalFeed> logger) : BackgroundService
{
    private volatile bool _listening;

    /// <summary>Every symbol's channel is subscribed.</summary>
    public bool Listening => _listening;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options.Redis);
        var subscriber = redis.GetSubscriber();
        var relays = new Task[options.Symbols.Count];
        for (var i = 0; i < relays.Length; i++)
        {
            var symbol = options.Symbols[i];
            var queue = await subscriber.SubscribeAsync(RedisChannel.Literal(options.ChannelPrefix + ":" + symbol));
            relays[i] = RelayAsync(symbol, queue, stoppingToken);
        }

        _listening = true;
        Log.Listening(logger, relays.Length, options.ChannelPrefix);
        await Task.WhenAll(relays);
    }

    private async Task RelayAsync(string symbol, ChannelMessageQueue queue, CancellationToken stoppingToken)
    {
        var group = hub.Clients.Group(symbol);
        long rejected = 0, failed = 0;
        while (true)
        {
            ChannelMessage message;
            try
            {
                message = await queue.ReadAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                return; // stopping
            }

            var read = SignalEnvelope.Read(((ReadOnlyMemory<byte>)message.Message).Span, symbol, out var signal);
            if (read == EnvelopeRead.Signal)
            {
                try
                {
                    await group.SendAsync("signal", signal, stoppingToken);
                }
                catch (RedisException ex)
                {
                    // The backplane's publish failed (Redis down): the signal is lost for this group; the peer has no
                    // store to repair from. Logged at 1, 2, 4, 8 ... failures so an outage cannot flood the log.
                    if (BitOperations.IsPow2(++failed))
                    {
                        Log.SendFailed(logger, symbol, failed, ex);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
            }
            else if (read != EnvelopeRead.OtherKind && BitOperations.IsPow2(++rejected))
            {
                Log.Rejected(logger, symbol, read, rejected);
            }
        }
    }
}
