using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// <c>send(2)</c> with <c>MSG_DONTWAIT</c>: takes what the kernel's send buffer has room for and never blocks.
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
    /// Bytes the kernel holds for the socket that the peer has not acknowledged yet (<c>ioctl SIOCOUTQ</c>), or 0 when
    /// that cannot be told (the socket is closed).
    /// </summary>
    public static int UnacknowledgedBytes(SafeSocketHandle socket) =>
        IoctlNative(socket, SiocOutQ, out var bytes) == 0 ? bytes : 0;

    private const nuint SiocOutQ = 0x5411; // TIOCOUTQ: for TCP, sent but not yet acknowledged plus not yet sent

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlNative(SafeSocketHandle socket, nuint request, out int value);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendNative(SafeSocketHandle socket, in byte buffer, nint length, int flags);
}
