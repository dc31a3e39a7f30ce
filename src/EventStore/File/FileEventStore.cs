using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File.Internal;

namespace SignalStream.EventStore.File;

/// <summary>
/// The embedded event store: append-only segment files under one folder, a CRC-32C per record, an fsync per group
/// commit, recovery that truncates a torn tail (and stops at corruption), bounded segments with retention, and an
/// in-memory index rebuilt at open.
/// </summary>
/// <remarks>
/// One process owns a journal folder: opening takes an exclusive OS lock (<see cref="JournalLock"/>) and a second owner
/// is refused. <see cref="OpenReadOnly"/> takes no lock and changes nothing, so a tool can read a journal beside its
/// node (what was committed when it opened). Appends are serialized (one group at a time: the fsync is the cost, and a
/// group amortizes it); reads run concurrently under a reader lock and never see a group before its fsync returned.
/// Positions are contiguous from 1, so the high-water mark is simply the last committed position.
/// </remarks>
internal sealed partial class FileEventStore : IEventStore, IAsyncDisposable
{
    private const string SegmentExtension = ".seg";
    private const string PartialSuffix = ".tmp";

    /// <summary>A segment never grows past this, whatever <see cref="FileJournalOptions.SegmentSizeBytes"/> says: recovery reads a segment into one array, and the index keeps entry offsets as <see cref="int"/>.</summary>
    private const long MaxSegmentBytes = int.MaxValue;

    private readonly FileJournalOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly JournalFiles _files;
    private readonly bool _readOnly;
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "Only awaited (no AvailableWaitHandle): nothing to release, and DisposeAsync takes it again when called twice.")]
    private readonly SemaphoreSlim _appendGate = new(1, 1);

    // Not disposed: a reader that passed EnsureOpen can still take it after DisposeAsync, and disposing a lock in use
    // throws; its wait events are SafeHandles the finalizer closes.
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "Readers may still take it after DisposeAsync (see the comment).")]
    private readonly ReaderWriterLockSlim _indexLock = new(LockRecursionPolicy.NoRecursion);
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

    // What a roll-over writes beside the group (the new segment's checkpoint, then the sealed one's sidecar head), both
    // a few dozen bytes a stream. Kept from one roll-over to the next: allocated anew, they were large objects (a few
    // thousand streams are enough) grown by doubling, whose churn added full collections to the roll-overs' appends
    // (BENCHMARKS.md, "File journal: the append that rolls over").
    private readonly ArrayBufferWriter<byte> _sealing = new(64 * 1024);

    // Appends waiting for the gate (guarded by locking the list itself), and, under the gate, the record being committed
    // and the checks' scratch state (FileEventStore.Append.cs).
    private readonly List<QueuedAppend> _queued = [];
    private readonly List<QueuedAppend> _record = [];
    private readonly Dictionary<string, long> _recordVersions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _groupVersions = new(StringComparer.Ordinal);
    private readonly HashSet<Guid> _recordIds = [];
    private readonly HashSet<Guid> _groupIds = [];
    private readonly List<(long Offset, JournalFormat.EntryView Entry)> _entries = [];

    // Guarded by _indexLock (written only while _appendGate is held, so the appender may read without it).
    // The index costs ~8 bytes per retained event: an entry offset in its segment and a position in its stream, 4 bytes
    // each (docs/events.md, "File journal"); the event ids kept are bounded by the de-duplication window.
    private readonly List<Segment> _segments = [];
    private readonly Dictionary<string, StreamState> _streams = new(StringComparer.Ordinal);
    private readonly RecentEventIds _recentIds;
    private long _firstPosition = 1;
    private long _nextPosition = 1;
    private long _releasedUpTo;

    // During recovery: ids of positions below this are not added to _recentIds (newer ones would evict them before the open ends).
    private long _idsFrom;
    private JournalLock? _owner;
    private bool _initialized;
    private bool _disposed;

    public FileEventStore(FileJournalOptions options, TimeProvider time, ILogger<FileEventStore> logger, IMeterFactory? meterFactory = null)
        : this(options, time, logger, JournalFiles.Os, readOnly: false, meterFactory)
    {
    }

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    internal FileEventStore(FileJournalOptions options, TimeProvider time, ILogger<FileEventStore> logger, JournalFiles files, bool readOnly, IMeterFactory? meterFactory = null)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _files = files;
        _readOnly = readOnly;
        // A read-only store takes no appends, so it checks no ids: a window of one instead of ~6 MB it would never use.
        _recentIds = new RecentEventIds(readOnly ? 1 : options.DeduplicationWindowEvents);
        if (meterFactory is not null)
        {
            CreateVerificationMetrics(meterFactory.Create(EventsMetrics.MeterName));
        }
    }

    /// <summary>
    /// A store over an existing journal that takes no lock and writes nothing: no truncation, no new segment, appends
    /// refused. It holds what was committed when <see cref="InitializeAsync"/> ran; an incomplete last record is the
    /// owner's group commit in progress and is left out.
    /// </summary>
    public static FileEventStore OpenReadOnly(FileJournalOptions options, TimeProvider time, ILogger<FileEventStore> logger) =>
        new(options, time, logger, JournalFiles.Os, readOnly: true);

    /// <summary>The last committed position (0 when empty): everything at or below it is readable.</summary>
    public long LastPosition
    {
        get
        {
            _indexLock.EnterReadLock();
            try
            {
                return _nextPosition - 1;
            }
            finally
            {
                _indexLock.ExitReadLock();
            }
        }
    }

    /// <summary>Segment files currently kept.</summary>
    public int SegmentCount
    {
        get
        {
            _indexLock.EnterReadLock();
            try
            {
                return _segments.Count;
            }
            finally
            {
                _indexLock.ExitReadLock();
            }
        }
    }

    public async ValueTask InitializeAsync(CancellationToken cancellationToken = default)
    {
        await _appendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized)
            {
                return;
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_readOnly)
            {
                if (!Directory.Exists(_options.Path))
                {
                    throw new DirectoryNotFoundException($"The event journal folder '{Path.GetFullPath(_options.Path)}' does not exist.");
                }
            }
            else
            {
                Directory.CreateDirectory(_options.Path);
                _owner = JournalLock.Acquire(_options.Path);
            }

            try
            {
                Recover();
            }
            catch
            {
                // Not opened: give back the files and the folder, and forget what was indexed, so the error can be fixed
                // and the open retried.
                ForgetIndex();
                _owner?.Dispose();
                _owner = null;
                throw;
            }

            _initialized = true;
            StartVerification();
        }
        finally
        {
            _appendGate.Release();
        }
    }

    public void ReleaseUpTo(long position)
    {
        _indexLock.EnterWriteLock();
        try
        {
            _releasedUpTo = Math.Max(_releasedUpTo, position);
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }
    }

    public IGlobalEventReader OpenGlobalReader(long afterPosition, IReadOnlyCollection<string>? dataOf = null) =>
        new GlobalReader(this, afterPosition, dataOf is null ? null : new HashSet<string>(dataOf, StringComparer.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await _appendGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await StopVerificationAsync().ConfigureAwait(false);
            CloseSegments();
            _owner?.Dispose();
            _owner = null;
        }
        finally
        {
            _appendGate.Release();
        }
    }

    private void ForgetIndex()
    {
        CloseSegments();
        _streams.Clear();
        _recentIds.Clear();
        _firstPosition = _nextPosition = 1;
        SegmentsIndexedFromSidecars = 0;
    }

    private void CloseSegments()
    {
        _indexLock.EnterWriteLock();
        try
        {
            foreach (var segment in _segments)
            {
                segment.Handle.Dispose();
            }

            _segments.Clear();
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }
    }

    private void EnsureOpen()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_initialized)
        {
            throw new InvalidOperationException("The file journal is not open: call InitializeAsync first.");
        }
    }

    private static string SegmentPath(string folder, long index) => Path.Combine(folder, index.ToString("D10") + SegmentExtension);

    /// <summary>One segment file.</summary>
    private sealed class Segment(long index, string path, SafeFileHandle handle)
    {
        public long Index { get; } = index;

        public string Path { get; } = path;

        public SafeFileHandle Handle { get; } = handle;

        public long Length { get; set; }

        /// <summary>Position of the first event in this segment (0: none yet).</summary>
        public long FirstPosition { get; set; }

        public long LastPosition { get; set; }

        public long LastTimestampMs { get; set; }

        /// <summary>The whole segment's CRC-32C its sidecar recorded (null: the segment was scanned at open, which checked it).</summary>
        public uint? ExpectedCrc { get; set; }

        /// <summary>Whether the segment's bytes are known to be the ones sealed: scanned at open, or compared with <see cref="ExpectedCrc"/> since.</summary>
        public bool IsVerified => ExpectedCrc is null || Volatile.Read(ref _verified) != 0;

        /// <summary>Held by a read that compares the checksum itself, so two reads of one segment compare it once.</summary>
        public Lock VerifyLock { get; } = new();

        /// <summary>Records the comparison; true for the first caller only (the read path and the background may both finish one).</summary>
        public bool MarkVerified() => Interlocked.Exchange(ref _verified, 1) == 0;

        private int _verified;

        /// <summary>The sidecar being collected while the segment is open (null once sealed, and in a read-only store).</summary>
        public SegmentIndexFile.Builder? Sidecar { get; set; }

        /// <summary>
        /// Where the first record failing its checksum starts, once the verification after open found the segment
        /// damaged (<see cref="long.MaxValue"/>: not known to be damaged). Reads of entries from there on fail.
        /// </summary>
        public long DamagedFrom
        {
            get => Volatile.Read(ref _damagedFrom);
            set => Volatile.Write(ref _damagedFrom, value);
        }

        private long _damagedFrom = long.MaxValue;

        /// <summary>
        /// Where the entry of each position from <see cref="FirstPosition"/> on starts in the file. An entry ends at most
        /// where the next starts (or at <see cref="Length"/>): a group's next record header may lie between, and
        /// parsing an entry reads only its own bytes, so no length is kept.
        /// </summary>
        public List<int> Offsets { get; } = [];

        /// <summary>The offset of the entry of <paramref name="position"/> (in this segment) and the offset its entry ends by.</summary>
        public (int Start, long End) Extent(long position)
        {
            var i = (int)(position - FirstPosition);
            return (Offsets[i], i + 1 < Offsets.Count ? Offsets[i + 1] : Length);
        }
    }

    private sealed class StreamState(string type, long created)
    {
        public string Type { get; } = type;

        public long CreatedMs { get; } = created;

        public long Version { get; set; }

        /// <summary>Positions of the retained versions, oldest first; the last is <see cref="Version"/>.</summary>
        public PositionList Positions { get; } = new();
    }
}
