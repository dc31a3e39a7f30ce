using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace SignalStream.EventStore.File;

/// <summary>
/// The journal folder's owner: an exclusive OS lock on <c>journal.lock</c> in the folder, held while the store is open.
/// The kernel drops it when the process ends however it ends (SIGKILL included), so a crash never leaves a stale lock.
/// </summary>
/// <remarks>
/// .NET takes <c>flock(LOCK_EX | LOCK_NB)</c> on Unix for <see cref="FileShare.None"/> (a sharing violation on
/// Windows); the lock is also taken explicitly with flock, because <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> turns the
/// former off. The file holds the owner's pid, for the refusal message: a second opener reads it with plain
/// <c>open</c>/<c>read</c>, since .NET's own open would ask for a shared lock and fail.
/// </remarks>
internal sealed partial class JournalLock : IDisposable
{
    public const string FileName = "journal.lock";

    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;
    private const int ReadOnly = 0;

    private readonly SafeFileHandle _handle;

    private JournalLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock, or throws <see cref="JournalLockedException"/> naming the folder and the holder's pid.</summary>
    public static JournalLock Acquire(string folder)
    {
        var path = Path.Combine(folder, FileName);
        SafeFileHandle handle;
        try
        {
            handle = System.IO.File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw Locked(folder, path, ex);
        }

        if (!OperatingSystem.IsWindows() && Flock(handle, LockExclusive | LockNonBlocking) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw Locked(folder, path, new IOException($"flock failed (errno {errno})."));
        }

        try
        {
            var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            RandomAccess.SetLength(handle, 0);
            RandomAccess.Write(handle, pid, 0);
        }
        catch (IOException)
        {
            // The pid is only for the message a second opener prints; a full disk must not stop the owner from opening.
        }

        return new JournalLock(handle);
    }

    /// <summary>The pid written by the current holder, when it can be read.</summary>
    internal static int? ReadHolderPid(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (OperatingSystem.IsWindows())
        {
            return null; // the holder's FileShare.None keeps every reader out
        }

        var fd = Open(path, ReadOnly);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            Span<byte> buffer = stackalloc byte[32];
            var read = Read(fd, ref MemoryMarshal.GetReference(buffer), buffer.Length);
            return read > 0 && int.TryParse(Encoding.ASCII.GetString(buffer[..(int)read]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                ? pid
                : null;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public void Dispose() => _handle.Dispose();

    private static JournalLockedException Locked(string folder, string path, IOException inner)
    {
        var full = Path.GetFullPath(folder);
        var holder = ReadHolderPid(folder) is { } pid ? $"process {pid}" : "another process";
        return new JournalLockedException(
            $"The event journal folder '{full}' is in use by {holder} (it holds the exclusive lock on '{Path.GetFileName(path)}'). " +
            "One node owns a journal folder: stop that process, or give this node its own Storage:File:Path. " +
            "To read a journal beside its node, use the replay verb (it opens the journal read-only).",
            inner);
    }

    private static int Flock(SafeFileHandle handle, int operation)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return Flock((int)handle.DangerousGetHandle(), operation);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

/// <summary>The journal folder is owned by another process.</summary>
internal sealed class JournalLockedException(string message, Exception inner) : IOException(message, inner);
