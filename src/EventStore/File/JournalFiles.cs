using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.File;

/// <summary>
/// The journal's changes to the file system (creates, writes, fsyncs, renames, deletes) and its reads of segments once
/// open, in one place: the operating system's calls, and the seam through which tests make them fail the way a full
/// disk does, hold them the way a slow disk does, or record them to rebuild what a power cut would leave (unit tests
/// cannot fill a real disk, slow it or cut its power at will).
/// </summary>
internal class JournalFiles
{
    public static readonly JournalFiles Os = new();

    public virtual SafeFileHandle Create(string path) =>
        System.IO.File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);

    public virtual void Write(SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset) => RandomAccess.Write(handle, bytes, offset);

    public virtual void Flush(SafeFileHandle handle) => RandomAccess.FlushToDisk(handle);

    public virtual void Truncate(SafeFileHandle handle, long length) => RandomAccess.SetLength(handle, length);

    public virtual void Delete(string path) => System.IO.File.Delete(path);

    /// <summary>Renames within the folder (atomic on POSIX file systems); replaces a leftover of an earlier failed attempt.</summary>
    public virtual void Rename(string from, string to) => System.IO.File.Move(from, to, overwrite: true);

    /// <summary>A read of events, or of a sealed segment being compared with the checksum it was sealed with.</summary>
    public virtual int Read(SafeFileHandle handle, Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);

    public virtual void FlushFolder(string folder) => DirectorySync.Flush(folder);
}
