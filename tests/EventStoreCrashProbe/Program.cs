using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.EventStoreCrashProbe;

// Usage: EventStoreCrashProbe <journal folder> [segment size bytes] [first group] [last group]
// Appends groups forever: group g holds 1–40 events over a few streams, each event's JSON is {"g":g,"i":i}.
// After each group's AppendAsync returns (fsync done) it prints "ACK g count". The test kills it with SIGKILL.
// With CRASH_PROBE_PAUSE_AT=<step>:<n> it stops the n-th time a roll-over reaches that step (RollOverPause) and
// prints "PAUSED <step>", so the kill lands there. After the last group (if given) it stops appending and waits for the
// kill: a test slowed down between an acknowledgement and its kill does not let the journal grow without bound.
// When the journal cannot be opened (another process owns the folder) it prints "REFUSED <message>" on stderr, exits 3.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: EventStoreCrashProbe <journal folder> [segment size bytes] [first group] [last group]");
    return 2;
}

// Built directly rather than through AddSignalStreamEvents: the pause needs the journal's file seam, and the roll-over
// test wants segments below the 64 KiB the configuration accepts (a sanity bound for operators, not a format limit).
var options = new FileJournalOptions { Path = args[0], SegmentSizeBytes = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 65536 };
var files = RollOverPause.FromEnvironment();
await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance, files, readOnly: false);
try
{
    await store.InitializeAsync();
}
catch (IOException ex)
{
    Console.Error.WriteLine("REFUSED " + ex.Message);
    return 3;
}

(files as RollOverPause)?.Arm();
Console.WriteLine("OPEN " + Environment.ProcessId);

var random = new Random();
var stdout = Console.Out;
var last = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : long.MaxValue;
for (var g = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 1L; ; g++)
{
    if (g > last)
    {
        Thread.Sleep(Timeout.Infinite);
    }

    var count = random.Next(1, 41);
    var byStream = new Dictionary<string, List<EventData>>();
    for (var i = 0; i < count; i++)
    {
        var stream = "crash-" + random.Next(4);
        if (!byStream.TryGetValue(stream, out var list))
        {
            byStream[stream] = list = [];
        }

        list.Add(new EventData(Guid.NewGuid(), "crash_probe", 1, Encoding.UTF8.GetBytes($$"""{"g":{{g}},"i":{{i}},"pad":"{{new string('x', random.Next(0, 400))}}"}"""), DateTimeOffset.UtcNow));
    }

    var group = byStream.Select(kv => new StreamAppend(kv.Key, "crash", ExpectedVersions.Any, kv.Value)).ToList();
    await store.AppendAsync(group);
    stdout.WriteLine($"ACK {g} {count}");
    stdout.Flush();
}
