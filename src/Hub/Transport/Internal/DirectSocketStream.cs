namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// The stream the WebSocket runs on after the handshake: it reads what Kestrel received, and writes through the
/// connection's <see cref="SocketFrameOutput"/>, so the WebSocket's own frames and the fan-out's share one ordered writer.
/// </summary>
internal sealed class DirectSocketStream(Stream received, SocketFrameOutput output) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException("A connection has no length.");

    public override long Position
    {
        get => throw new NotSupportedException("A connection has no position.");
        set => throw new NotSupportedException("A connection has no position.");
    }

    public override int Read(byte[] buffer, int offset, int count) => received.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => received.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        received.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        received.ReadAsync(buffer, cancellationToken);

    /// <summary>Never waits: the output sends at once or keeps a copy in order (<see cref="SocketFrameOutput.Write"/>).</summary>
    public override void Write(ReadOnlySpan<byte> buffer) => output.Write(buffer);

    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        output.Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        output.Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    /// <summary>Writes reach the socket (or its queue) as they are made.</summary>
    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A connection cannot seek.");

    public override void SetLength(long value) => throw new NotSupportedException("A connection has no length.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            received.Dispose();
        }

        base.Dispose(disposing);
    }
}
