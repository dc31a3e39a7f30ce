using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// <c>send(2)</c> and <c>sendmsg(2)</c> with <c>MSG_DONTWAIT</c>: take what the kernel's send buffer has room for and
/// never block.
/// </summary>
/// <remarks>
/// <see cref="Socket.Send(ReadOnlySpan{byte}, SocketFlags, out SocketError)"/> cannot be used for this: on a non-blocking
/// socket a send that is cut short by a full buffer reports <see cref="SocketError.WouldBlock"/> and 0 bytes although
/// some went out, and the next write would repeat them. Linux only (the flag values are Linux's); elsewhere the node
/// keeps SignalR's own send path.
/// </remarks>
internal static partial class NonBlockingSend
{
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int Eintr = 4;
    private const int Eagain = 11;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Bytes the kernel took (0 when its buffer is full), or -1 when the connection failed.</summary>
    public static int Send(SafeSocketHandle socket, ReadOnlySpan<byte> bytes)
    {
        while (true)
        {
            var sent = SendNative(socket, in MemoryMarshal.GetReference(bytes), bytes.Length, MsgDontWait | MsgNoSignal);
            if (sent >= 0)
            {
                return (int)sent;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error != Eintr)
            {
                return error == Eagain ? 0 : -1;
            }
        }
    }

    /// <summary>
    /// One <c>sendmsg(2)</c> of several buffers in order (a gathered write): bytes the kernel took, which may end inside
    /// any of them (0 when its buffer is full), or -1 when the connection failed. The memory each vector points to must
    /// stay pinned for the call; at most <see cref="MaxVectors"/> of them.
    /// </summary>
    public static unsafe long SendGathered(SafeSocketHandle socket, ReadOnlySpan<IoVector> vectors)
    {
        fixed (IoVector* first = vectors)
        {
            var message = new MessageHeader { Vectors = first, VectorCount = (nuint)vectors.Length };
            while (true)
            {
                var sent = SendMessageNative(socket, &message, MsgDontWait | MsgNoSignal);
                if (sent >= 0)
                {
                    return sent;
                }

                var error = Marshal.GetLastPInvokeError();
                if (error != Eintr)
                {
                    return error == Eagain ? 0 : -1;
                }
            }
        }
    }

    /// <summary>Linux's <c>UIO_MAXIOV</c> (<c>IOV_MAX</c>): sendmsg refuses more vectors with EMSGSIZE.</summary>
    public const int MaxVectors = 1024;

    /// <summary>
    /// Bytes the kernel holds for the socket that the peer has not acknowledged yet (<c>ioctl SIOCOUTQ</c>), or 0 when
    /// that cannot be told (the socket is closed).
    /// </summary>
    public static int UnacknowledgedBytes(SafeSocketHandle socket) =>
        IoctlNative(socket, SiocOutQ, out var bytes) == 0 ? bytes : 0;

    private const nuint SiocOutQ = 0x5411; // TIOCOUTQ: for TCP, sent but not yet acknowledged plus not yet sent

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlNative(SafeSocketHandle socket, nuint request, out int value);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static unsafe partial nint SendMessageNative(SafeSocketHandle socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendNative(SafeSocketHandle socket, in byte buffer, nint length, int flags);

    /// <summary><c>struct iovec</c>: one buffer of a gathered send.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public nint Base;
        public nuint Length;
    }

    /// <summary>
    /// <c>struct msghdr</c> as glibc lays it out (size_t lengths, natural alignment; musl's int lengths with padding read
    /// the same on little-endian machines). No address and no control data: the socket is connected.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MessageHeader
    {
        public nint Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public nint Control;
        public nuint ControlLength;
        public int Flags;
    }
}
