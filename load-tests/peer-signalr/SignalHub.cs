using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;

namespace SignalStream.PeerSignalR;

/// <summary>
/// <c>/hubs/signals</c>: a group per symbol. <c>Subscribe</c> takes SignalStream's request shape so the same clients drive
/// both servers; the peer keeps no history, so <c>afterSeq</c>, <c>timeframes</c> and <c>minConfidence</c> are ignored
/// and the answer carries no <c>latestSeq</c>.
/// </summary>
[SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Created by SignalR for each call (MapHub in Program.cs).")]
internal sealed class SignalHub(PeerOptions options) : Hub
{
    public async Task<SubscribeAnswer> Subscribe(SubscribeRequest request)
    {
        var symbol = Served(request?.Symbol);
        await Groups.AddToGroupAsync(Context.ConnectionId, symbol);
        return new SubscribeAnswer(symbol);
    }

    public Task Unsubscribe(string symbol) => Groups.RemoveFromGroupAsync(Context.ConnectionId, Served(symbol));

    private string Served(string? symbol)
    {
        var normalized = symbol?.Trim().ToUpperInvariant() ?? "";
        if (!options.Serves(normalized))
        {
            var shown = normalized.Length > 40 ? normalized[..40] + "..." : normalized;
            throw new HubException($"'{shown}' is not a symbol this peer serves (Peer:Symbols lists {options.Symbols.Count}).");
        }

        return normalized;
    }
}

/// <summary>The answer to <c>Subscribe</c>: the group joined. No <c>latestSeq</c>: the peer cannot say where live delivery
/// starts, so a client counts from the first signal it receives (and sees what it missed across a reconnect as a gap).</summary>
public sealed record SubscribeAnswer(string Symbol);
