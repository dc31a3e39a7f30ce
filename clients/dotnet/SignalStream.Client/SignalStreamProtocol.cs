namespace SignalStream.Client;

/// <summary>The SignalR hub protocol a <see cref="SignalStreamClient"/> speaks (the server enables both by default).</summary>
public enum SignalStreamProtocol
{
    /// <summary>SignalR's JSON protocol: text, readable in a browser's developer tools.</summary>
    Json,

    /// <summary>SignalR's MessagePack protocol: binary, smaller frames; the same contract types arrive.</summary>
    MessagePack,
}
