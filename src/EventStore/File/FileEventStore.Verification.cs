using System.Buffers;
using System.Diagnostics.Metrics;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    // 64 MiB/s: a year of candles (~90 GB) in ~25 minutes, leaving most of a shared disk's bandwidth to the node.
    private const long VerifyBytesPerSecond = 64L * 1024 * 1024;
    private const int VerifyChunkBytes = 1024 * 1024;
    private const long VerifyProgressEveryBytes = 4L * 1024 * 1024 * 1024;

    private readonly CancellationTokenSource _verificationStop = new();
    private readonly Lock _damagedLock = new();
    private IReadOnlyList<DamagedSegment> _damaged = [];
    private Task _verification = Task.CompletedTask;
    private int _unverified;

    /// <summary>Sealed segments the verification after open found not to match the checksum recorded when they were sealed.</summary>
    internal IReadOnlyList<DamagedSegment> DamagedSegments
    {
        get
        {
            lock (_damagedLock)
            {
                return _damaged;
            }
        }
    }

    /// <summary>The verification after open: completes once every segment indexed from its sidecar was checked (or on dispose).</summary>
    internal Task Verification => _verification;

    private void CreateVerificationMetrics(Meter meter)
    {
        meter.CreateObservableGauge(
            "signalstream_journal_damaged_segments",
            () => DamagedSegments.Count,
            description: "Sealed journal segments whose checksum did not match the one recorded when they were sealed (docs/events.md, \"Verification\").");
        meter.CreateObservableGauge(
            "signalstream_journal_unverified_segments",
            () => Volatile.Read(ref _unverified),
            description: "Sealed journal segments indexed from their sidecar at open whose checksum is not yet verified.");
    }

    /// <summary>Starts checking, off the open's path, the segments indexed from their sidecars (a scanned segment was checked by its scan).</summary>
    private void StartVerification()
    {
        // Never the open segment: appends change it (one indexed from its sidecar was compared by the open).
        var pending = _segments.Take(_segments.Count - 1).Where(s => !s.IsVerified).ToArray();
        Volatile.Write(ref _unverified, pending.Length); // what the open compared is not counted (nor, if it was damaged, opened)
        if (pending.Length == 0)
        {
            return;
        }

        _verification = Task.Run(() => VerifyAsync(pending, _verificationStop.Token));
    }

    /// <summary>A segment retention deleted is no longer damage to report.</summary>
    private void ForgetDamage(string path)
    {
        lock (_damagedLock)
        {
            if (_damaged.Any(d => d.Path == path))
            {
                _damaged = [.. _damaged.Where(d => d.Path != path)];
            }
        }
    }

    private async Task StopVerificationAsync()
    {
        await _verificationStop.CancelAsync().ConfigureAwait(false);
        await _verification.ConfigureAwait(false);
        _verificationStop.Dispose();
    }

    private async Task VerifyAsync(Segment[] pending, CancellationToken cancellationToken)
    {
        var total = pending.Sum(s => s.Length);
        Log.VerificationStarted(_logger, _options.Path, pending.Length, total);
        var started = _time.GetTimestamp();
        var buffer = ArrayPool<byte>.Shared.Rent(VerifyChunkBytes);
        long done = 0;
        var nextProgress = VerifyProgressEveryBytes;
        try
        {
            foreach (var segment in pending)
            {
                if (segment.IsVerified)
                {
                    done += segment.Length; // a read needed it first and compared it
                    continue;
                }

                string? problem;
                try
                {
                    using var handle = System.IO.File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    var crc = 0u;
                    long offset = 0;
                    while (offset < segment.Length)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var n = _files.Read(handle, buffer.AsSpan(0, (int)Math.Min(VerifyChunkBytes, segment.Length - offset)), offset);
                        if (n == 0)
                        {
                            break;
                        }

                        crc = Crc32C.Extend(crc, buffer.AsSpan(0, n));
                        offset += n;
                        done += n;
                        if (done >= nextProgress)
                        {
                            Log.VerificationProgress(_logger, _options.Path, done, total);
                            nextProgress += VerifyProgressEveryBytes;
                        }

                        // Bounded I/O: sleep off whatever is ahead of the budget, rounded up to the millisecond:
                        // Task.Delay truncates to whole milliseconds, so a lead under one would not sleep at all.
                        var ahead = TimeSpan.FromSeconds((double)done / VerifyBytesPerSecond) - _time.GetElapsedTime(started);
                        if (ahead > TimeSpan.Zero)
                        {
                            var sleep = TimeSpan.FromMilliseconds(Math.Ceiling(ahead.TotalMilliseconds));
                            await Task.Delay(sleep, _time, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    problem = Judge(segment, handle, offset, crc);
                }
                catch (FileNotFoundException)
                {
                    problem = null; // deleted by retention since the open
                }
                catch (IOException ex)
                {
                    problem = $"it could not be read ({ex.Message})";
                    segment.DamagedFrom = 0;
                }

                Report(segment, problem);
            }

            Log.VerificationFinished(_logger, _options.Path, pending.Length, DamagedSegments.Count, _time.GetElapsedTime(started).TotalSeconds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed: the next open verifies again.
        }
#pragma warning disable CA1031 // a background task: an unexpected failure is logged, never lost in an unobserved task
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.VerificationFailed(_logger, _options.Path, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Compares a segment indexed from its sidecar before a read serves any of its events, unless the background did
    /// already: an event of a sealed segment is never served unchecked. Reads call it outside the index lock (appends
    /// never wait for it); the first read of each unchecked segment pays for one pass over it (~64 MiB by default),
    /// and the reads right after a start (the projector's catch-up) are the ones that do, mostly before the node serves.
    /// </summary>
    /// <exception cref="ObjectDisposedException">Retention deleted the segment meanwhile.</exception>
    private void EnsureVerified(Segment segment)
    {
        if (segment.IsVerified)
        {
            return;
        }

        lock (segment.VerifyLock) // two reads of one segment compare it once
        {
            if (segment.IsVerified)
            {
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(VerifyChunkBytes);
            try
            {
                var crc = 0u;
                long offset = 0;
                while (offset < segment.Length)
                {
                    var n = _files.Read(segment.Handle, buffer.AsSpan(0, (int)Math.Min(VerifyChunkBytes, segment.Length - offset)), offset);
                    if (n == 0)
                    {
                        break;
                    }

                    crc = Crc32C.Extend(crc, buffer.AsSpan(0, n));
                    offset += n;
                }

                Report(segment, Judge(segment, segment.Handle, offset, crc));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>What is wrong with a sealed segment read through to <paramref name="length"/> with checksum <paramref name="crc"/>, or null; on damage, where it starts.</summary>
    private static string? Judge(Segment segment, Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, uint crc)
    {
        var problem = length != segment.Length ? $"it ends at byte {length}, it was sealed at {segment.Length}"
            : crc != segment.ExpectedCrc ? $"its CRC-32C is {crc:x8}, it was {segment.ExpectedCrc:x8} when sealed"
            : null;
        if (problem is not null)
        {
            segment.DamagedFrom = LocateDamage(handle, segment.Path);
        }

        return problem;
    }

    /// <summary>Records a segment's comparison once, whoever finished it first: the damage (log, gauge, health) and one segment fewer to verify.</summary>
    private void Report(Segment segment, string? problem)
    {
        if (!segment.MarkVerified())
        {
            return;
        }

        if (problem is not null && System.IO.File.Exists(segment.Path))
        {
            lock (_damagedLock)
            {
                _damaged = [.. _damaged, new DamagedSegment(segment.Path, problem, segment.DamagedFrom)];
            }

            Log.SegmentDamaged(_logger, segment.Path, problem, segment.DamagedFrom);
        }

        Interlocked.Decrement(ref _unverified);
    }

    /// <summary>Where the first record failing its checksum starts (0 when every record holds: the segment as a whole is not the one sealed).</summary>
    private static long LocateDamage(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path)
    {
        var bytes = ReadWhole(handle, path);
        long offset = 0;
        while (TryReadRecord(bytes, offset, out var payload))
        {
            offset += JournalFormat.RecordHeaderSize + payload.Length;
        }

        return offset < bytes.Length ? offset : 0;
    }

    /// <summary>A sealed segment found damaged after open; events from <see cref="From"/> (a byte offset) on cannot be read.</summary>
    internal readonly record struct DamagedSegment(string Path, string Problem, long From);
}
