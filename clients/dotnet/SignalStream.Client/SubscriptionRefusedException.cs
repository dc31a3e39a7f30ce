namespace SignalStream.Client;

/// <summary>The server refused a subscription (unknown symbol, not entitled, a limit); the message is the server's.</summary>
public sealed class SubscriptionRefusedException(string symbol, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The symbol whose subscription was refused.</summary>
    public string Symbol { get; } = symbol;
}
