
namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// How the node's own messages reach one client: offered without waiting, kept in order, bounded. Fan-out never awaits a
/// client; a client that cannot keep up shows as a refused offer or a stall, and is cut off.
/// </summary>
internal interface IClientOutput
{
    /// <summary>
    /// Since when (a <see cref="TimeProvider.GetTimestamp"/> value) the transport has taken nothing while something waits
    /// for it, or 0 when nothing waits: how long this client has made no progress at all.
    /// </summary>
    long StalledSince { get; }

    /// <summary>Bytes the node holds for this client now (see <c>Hub:OutboundQueueBytes</c> for what each output counts).</summary>
    long QueuedBytes { get; }

    /// <summary>The most bytes the node ever held for this client at once.</summary>
    long PeakQueuedBytes { get; }

    /// <summary>True once closed, cut off or aborted: nothing more is accepted.</summary>
    bool HasEnded { get; }

    /// <summary>Completes once the output has ended and what was offered has been handed on (or the connection died).</summary>
    Task Drained { get; }

    /// <summary>Sends <paramref name="frame"/> now or queues it behind what waits; false when the queue is at its limit
    /// (messages or bytes) or the output has ended.</summary>
    bool TryOffer(OutboundFrame frame);

    /// <summary>
    /// Offers messages that were ready together, in order, in <paramref name="protocol"/>; an output that can send them in
    /// one call does. How many of the first were taken: it stops at the first one refused, as <see cref="TryOffer"/> would.
    /// </summary>
    int TryOfferRun(IReadOnlyList<OutboundMessage> messages, WireProtocol protocol)
    {
        for (var i = 0; i < messages.Count; i++)
        {
            if (!TryOffer(messages[i].FrameFor(protocol)))
            {
                return i;
            }
        }

        return messages.Count;
    }

    /// <summary>Sends <paramref name="close"/> after everything queued (nothing offered is lost), then ends the connection;
    /// false when the output had already ended.</summary>
    bool Close(OutboundFrame close);

    /// <summary>Drops what is queued, sends <paramref name="close"/> behind what the transport already holds, and ends the
    /// connection. An output already closed whose close message still waits is cut the same way, with its own close
    /// message; false when it was cut already or nothing waits.</summary>
    bool CutOff(OutboundFrame close);

    /// <summary>The connection is gone: nothing more is offered.</summary>
    void Abort();
}
