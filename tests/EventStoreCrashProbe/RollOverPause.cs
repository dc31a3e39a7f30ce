using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File;

namespace SignalStream.EventStoreCrashProbe;

/// <summary>
/// The journal's files, stopping the process for good the n-th time a roll-over reaches one step, so the test's SIGKILL
/// lands exactly there rather than wherever a timer puts it. Counting starts once the journal is open (<see cref="Arm"/>):
/// the open's own segment creation and sidecar rewrites would otherwise shift which roll-over the n-th is; with
/// <c>step:n:open</c> it starts before the open, to stop inside the open's rewrite of a missing sidecar.
/// The steps, in the order a roll-over takes them:
/// <list type="bullet">
/// <item><c>segment-created</c>: the new segment's <c>.seg.tmp</c> is written and fsynced, not renamed.</item>
/// <item><c>sidecar-started</c>: the new segment is renamed into place; the sealed one has no sidecar yet.</item>
/// <item><c>sidecar-half</c>: the sidecar's <c>.idx.tmp</c> holds its header only.</item>
/// <item><c>sidecar-written</c>: the <c>.idx.tmp</c> is whole and fsynced, not renamed.</item>
/// <item><c>sidecar-renamed</c>: the sidecar is in place, the folder not yet fsynced, no group in the new segment.</item>
/// <item><c>group-torn</c>: half of the first group's record is written to the new segment (never acknowledged).</item>
/// </list>
/// </summary>
internal sealed class RollOverPause(string step, int occurrence, bool fromOpen) : JournalFiles
{
    public static readonly string[] Steps = ["segment-created", "sidecar-started", "sidecar-half", "sidecar-written", "sidecar-renamed", "group-torn"];

    private bool _armed = fromOpen;
    private int _reached;
    private SafeFileHandle? _newSegment;
    private SafeFileHandle? _sidecar;
    private int _sidecarWrites;
    private bool _sidecarRenamed;

    /// <summary>The pausing files when <c>CRASH_PROBE_PAUSE_AT=step:n[:open]</c> is set, the operating system's otherwise.</summary>
    public static JournalFiles FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("CRASH_PROBE_PAUSE_AT") is not { Length: > 0 } value)
        {
            return Os;
        }

        var parts = value.Split(':');
        if (parts.Length is not (2 or 3) || !Steps.Contains(parts[0]) || !int.TryParse(parts[1], out var n) || n < 1
            || (parts.Length == 3 && parts[2] != "open"))
        {
            throw new ArgumentException($"CRASH_PROBE_PAUSE_AT '{value}': expected <step>:<n>[:open], step one of {string.Join(", ", Steps)}");
        }

        return new RollOverPause(parts[0], n, fromOpen: parts.Length == 3);
    }

    /// <summary>Counts the steps from now on.</summary>
    public void Arm() => _armed = true;

    public override SafeFileHandle Create(string path)
    {
        if (!path.EndsWith(".idx.tmp", StringComparison.Ordinal))
        {
            // A new segment: its checkpoint is written at offset 0, its first group after it.
            return _newSegment = base.Create(path);
        }

        At("sidecar-started");
        _sidecar = base.Create(path);
        _sidecarWrites = 0;
        return _sidecar;
    }

    public override void Write(SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset)
    {
        // The first write is the sidecar's header, the second its entries: stopping before the second leaves half a file.
        if (handle == _sidecar && ++_sidecarWrites == 2)
        {
            At("sidecar-half");
        }

        if (handle == _newSegment && offset > 0)
        {
            _newSegment = null;
            if (_armed && step == "group-torn" && _reached + 1 == occurrence)
            {
                base.Write(handle, bytes[..(bytes.Length / 2)], offset); // what a kill inside the write leaves
            }

            At("group-torn");
        }

        base.Write(handle, bytes, offset);
    }

    public override void Rename(string from, string to)
    {
        var sidecar = from.EndsWith(".idx.tmp", StringComparison.Ordinal);
        At(sidecar ? "sidecar-written" : "segment-created");
        base.Rename(from, to);
        _sidecarRenamed = sidecar;
    }

    public override void FlushFolder(string folder)
    {
        if (_sidecarRenamed)
        {
            _sidecarRenamed = false;
            At("sidecar-renamed");
        }

        base.FlushFolder(folder);
    }

    private void At(string here)
    {
        if (!_armed || here != step || ++_reached != occurrence)
        {
            return;
        }

        // Inside the append (or the open), under the journal's append gate: nothing else can write until the kill.
        Console.Out.WriteLine("PAUSED " + here);
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
