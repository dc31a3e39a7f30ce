using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SignalStream.Testing.FakeExchange;

/// <summary>
/// Server side of RFC 6455 over the raw upgraded connection. The fake does its own framing (instead of ASP.NET Core's
/// WebSocket) because it must see what the built-in one hides: every pong and its payload, and every control frame a
/// client sends (Binance counts pings, pongs and JSON messages against the 5-a-second limit).
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release; the connection owns the stream.")]
internal sealed class ServerWebSocket
{
    public const byte Text = 0x1;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    private readonly Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private ServerWebSocket(Stream stream) => _stream = stream;

    public static async Task<ServerWebSocket?> AcceptAsync(HttpContext context)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var key = context.Request.Headers["Sec-WebSocket-Key"].ToString();
        if (upgrade is null || !upgrade.IsUpgradableRequest || key.Length == 0
            || !string.Equals(context.Request.Headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("Expected a WebSocket upgrade.");
            return null;
        }

#pragma warning disable CA5350 // RFC 6455 4.2.2: Sec-WebSocket-Accept is SHA-1 by protocol, not a security choice
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers["Sec-WebSocket-Accept"] = accept;
        var stream = await upgrade.UpgradeAsync();
        return new ServerWebSocket(stream);
    }

    /// <summary>
    /// Reads one client frame (unmasked for the caller); null at end of stream. <c>ArrivedAt</c> is the
    /// <see cref="System.Diagnostics.Stopwatch"/> time its first bytes were read; <c>WasBuffered</c> says they were
    /// already waiting (the reader was behind), so they arrived at some unknown earlier time.
    /// </summary>
    public async Task<(byte Opcode, bool Fin, byte[] Payload, bool WasMasked, long ArrivedAt, bool WasBuffered)?> ReadFrameAsync(
        CancellationToken cancellationToken)
    {
        var header = new byte[2];
        var first = _stream.ReadAsync(header, cancellationToken);
        var wasBuffered = first.IsCompleted;
        var read = await first;
        var arrivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (read == 0 || (read == 1 && !await ReadExactlyOrEndAsync(header.AsMemory(1), cancellationToken)))
        {
            return null;
        }

        var fin = (header[0] & 0x80) != 0;
        var opcode = (byte)(header[0] & 0x0F);
        var masked = (header[1] & 0x80) != 0;
        long length = header[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await _stream.ReadExactlyAsync(ext, cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(ext);
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await _stream.ReadExactlyAsync(ext, cancellationToken);
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
        }

        if (length > 1 << 20)
        {
            throw new InvalidDataException($"Client frame of {length} bytes is larger than the fake accepts.");
        }

        var mask = new byte[4];
        if (masked)
        {
            await _stream.ReadExactlyAsync(mask, cancellationToken);
        }

        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, cancellationToken);
        if (masked)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= mask[i & 3];
            }
        }

        return (opcode, fin, payload, masked, arrivedAt, wasBuffered);
    }

    /// <summary>Writes several frames in one write (unmasked, as a server must).</summary>
    public async Task WriteFramesAsync(IReadOnlyList<(byte Opcode, ReadOnlyMemory<byte> Payload)> frames, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        foreach (var (opcode, payload) in frames)
        {
            AppendFrame(buffer, opcode, payload.Span);
        }

        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancellationToken);
            await _stream.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Writes one frame of <paramref name="length"/> bytes, <paramref name="prefix"/> followed by <paramref name="filler"/>,
    /// in 64 KB writes, so a test can send a message far larger than it wants to hold in memory.
    /// </summary>
    public async Task WriteStreamedFrameAsync(byte opcode, long length, ReadOnlyMemory<byte> prefix, byte filler,
        CancellationToken cancellationToken)
    {
        var header = new byte[10];
        header[0] = (byte)(0x80 | opcode);
        header[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), (ulong)length);
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, filler);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(header, cancellationToken);
            await _stream.WriteAsync(prefix, cancellationToken);
            for (var left = length - prefix.Length; left > 0; left -= chunk.Length)
            {
                await _stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(left, chunk.Length)), cancellationToken);
            }

            await _stream.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public Task WriteFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        WriteFramesAsync([(opcode, payload)], cancellationToken);

    private static void AppendFrame(MemoryStream buffer, byte opcode, ReadOnlySpan<byte> payload)
    {
        buffer.WriteByte((byte)(0x80 | opcode));
        if (payload.Length < 126)
        {
            buffer.WriteByte((byte)payload.Length);
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            buffer.WriteByte(126);
            Span<byte> len = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(len, (ushort)payload.Length);
            buffer.Write(len);
        }
        else
        {
            buffer.WriteByte(127);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(len, (ulong)payload.Length);
            buffer.Write(len);
        }

        buffer.Write(payload);
    }

    private async Task<bool> ReadExactlyOrEndAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer[read..], cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }
}
