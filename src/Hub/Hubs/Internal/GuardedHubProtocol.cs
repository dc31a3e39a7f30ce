using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// One of SignalR's protocols (JSON or MessagePack) with the checks that SignalR's dispatcher would skip: every
/// message a client sends that the node answers or works on is counted against its invocation budget, ids and names are
/// bounded, and no reply echoes more than a few dozen characters of what the client sent.
/// </summary>
/// <remarks>
/// <para>
/// Why here: SignalR refuses an unknown method, or arguments that do not bind, before any hub filter runs, so
/// <see cref="HubGuardFilter"/> never saw them, and its error reply quoted the method name whole. A client invoking a
/// 30 KB method name in a loop got 30 KB back for each call, unthrottled. The parser sees every message of every
/// connection, and the writer every reply.
/// </para>
/// <para>
/// Invocations of a hub method are counted by <see cref="HubGuardFilter"/> (so the refusal reads as a plain HubException);
/// everything else but pings (binding failures, stream invocations, cancellations, stream items, completions) is counted
/// here. The connection is <see cref="ConnectionGuard.Current"/>: SignalR parses on the connection's own task.
/// </para>
/// </remarks>
internal sealed class GuardedHubProtocol(IHubProtocol inner, ConnectionRegistry registry) : IHubProtocol
{
    /// <summary>Longest invocation id accepted; the official clients send counters, some clients GUIDs (36).</summary>
    public const int MaxInvocationIdLength = 64;

    /// <summary>Longest method name quoted back in an error.</summary>
    public const int MaxQuotedNameLength = 64;

    /// <summary>Longest error text sent in a completion or close message.</summary>
    public const int MaxErrorLength = 1024;

    public string Name => inner.Name;

    public int Version => inner.Version;

    public TransferFormat TransferFormat => inner.TransferFormat;

    public bool IsVersionSupported(int version) => inner.IsVersionSupported(version);

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
    {
        var before = input.Length;
        if (!inner.TryParseMessage(ref input, binder, out message))
        {
            if (input.Length == before)
            {
                return false; // no whole record yet
            }

            // A whole record of a type the protocol does not know, which both SignalR protocols skip by returning false.
            // SignalR's dispatch loop reads false as "need more bytes" and, when it bounds message size (we do), does
            // not move past the record: every later message of the connection stalled behind it, for good, and so
            // did the client timeout. The protocol says to ignore unknown types: it goes on as a ping, counted as a call.
            message = Counted(PingMessage.Instance);
            return true;
        }

        if (message is HubInvocationMessage { InvocationId.Length: > MaxInvocationIdLength } invocation)
        {
            // A protocol error: SignalR closes the connection with this reason (detailed errors are on).
            throw new InvalidDataException(
                $"invocationId is {invocation.InvocationId!.Length} characters long; at most {MaxInvocationIdLength} are accepted.");
        }

        message = message switch
        {
            PingMessage or CloseMessage or InvocationMessage => message,
            InvocationBindingFailureMessage failure => Refuse(failure),
            _ => Counted(message),
        };
        return true;
    }

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => inner.WriteMessage(Bounded(message), output);

    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => inner.GetMessageBytes(Bounded(message));

    /// <summary>Counts a message the node works on outside a hub method; a refusal only adds to the flood count (no
    /// reply goes back for these).</summary>
    private HubMessage Counted(HubMessage message)
    {
        if (ConnectionGuard.Current is { } guard)
        {
            registry.TryAdmitCall(guard);
        }

        return message;
    }

    /// <summary>
    /// An unknown method or arguments that do not bind: SignalR replies with an error naming the method. It counts as
    /// a call, the name is cut short, and past the rate limit the reason given is the limit.
    /// </summary>
    private InvocationBindingFailureMessage Refuse(InvocationBindingFailureMessage failure)
    {
        var refusal = ConnectionGuard.Current is { } guard ? registry.TryAdmitCall(guard) : null;
        // The target is null when the message had none and its arguments came first; SignalR quotes it as ''.
        var target = Truncate(failure.Target ?? string.Empty, MaxQuotedNameLength);
        if (refusal is null && target.Length == (failure.Target?.Length ?? 0))
        {
            return failure;
        }

        var reason = refusal is null ? failure.BindingFailure : ExceptionDispatchInfo.Capture(new HubException(refusal));
        return new InvocationBindingFailureMessage(failure.InvocationId, target, reason);
    }

    private static HubMessage Bounded(HubMessage message) => message switch
    {
        CompletionMessage { Error.Length: > MaxErrorLength } completion =>
            CompletionMessage.WithError(completion.InvocationId!, Truncate(completion.Error!, MaxErrorLength)),
        CloseMessage { Error.Length: > MaxErrorLength } close => new CloseMessage(Truncate(close.Error!, MaxErrorLength), close.AllowReconnect),
        _ => message,
    };

    /// <summary>The first <paramref name="max"/> characters and an ellipsis (never half a surrogate pair), or the text
    /// itself when it is short enough.</summary>
    internal static string Truncate(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        var cut = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return string.Concat(text.AsSpan(0, cut), "…");
    }
}
