using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// A SignalR hub connection whose transport is a pair of in-memory pipes: what the node writes to the client lands in
/// <see cref="ToClient"/>, with no socket and no keep-alive or timeout of its own.
/// </summary>
internal sealed class PipeHubConnection
{
    private static readonly JsonHubProtocol Protocol = new();

    public PipeHubConnection(string id, PipeOptions toClient)
    {
        ToClient = new Pipe(toClient);
        var fromClient = new Pipe(new PipeOptions(useSynchronizationContext: false));
        var connection = new DefaultConnectionContext(id, new DuplexPipe(fromClient.Reader, ToClient.Writer), new DuplexPipe(ToClient.Reader, fromClient.Writer));
        Context = new HubConnectionContext(connection,
            new HubConnectionContextOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, ClientTimeoutInterval = Timeout.InfiniteTimeSpan },
            NullLoggerFactory.Instance)
        {
            Protocol = Protocol,
        };
    }

    public HubConnectionContext Context { get; }

    /// <summary>What the node wrote to the client.</summary>
    public Pipe ToClient { get; }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
