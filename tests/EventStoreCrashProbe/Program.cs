using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.EventStore;

// Usage: EventStoreCrashProbe <journal folder> [segment size bytes]
// Appends groups forever: group g holds 1–40 events over a few streams, each event's JSON is {"g":g,"i":i}.
// After each group's AppendAsync returns (fsync done) it prints "ACK g count". The test kills it with SIGKILL.
// When the journal cannot be opened (another process owns the folder) it prints "REFUSED <message>" on stderr, exits 3.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: EventStoreCrashProbe <journal folder> [segment size bytes]");
    return 2;
}

var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Storage:Provider"] = "file",
    ["Storage:File:Path"] = args[0],
    ["Storage:File:SegmentSizeBytes"] = args.Length > 1 ? args[1] : "65536",
}).Build();
var services = new ServiceCollection().AddLogging();
services.AddSignalStreamEvents(configuration);
await using var provider = services.BuildServiceProvider();
var store = provider.GetRequiredService<IEventStore>();
try
{
    await store.InitializeAsync();
}
catch (IOException ex)
{
    Console.Error.WriteLine("REFUSED " + ex.Message);
    return 3;
}

Console.WriteLine("OPEN " + Environment.ProcessId);

var random = new Random();
var stdout = Console.Out;
for (var g = 1L; ; g++)
{
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
