using System.Text;

namespace SignalStream.EventStore.Tests;

internal static class TestEvents
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public static EventData Event(string type = "test_event", string? payload = null, Guid? id = null) => new(
        id ?? Guid.NewGuid(),
        type,
        1,
        Encoding.UTF8.GetBytes(payload ?? $$"""{"n":{{Random.Shared.Next()}}}"""),
        DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

    public static EventData[] Events(int count) => Enumerable.Range(0, count).Select(i => Event(payload: $$"""{"i":{{i}}}""")).ToArray();

    public static StreamAppend Append(string stream, long expected, params EventData[] events) => new(stream, "test", expected, events);

    public static StreamAppend[] Group(params StreamAppend[] appends) => appends;

    /// <summary>Every event's id, in the store's global order, read page by page from the start.</summary>
    public static async Task<List<Guid>> ReadAllIdsAsync(IEventStore store)
    {
        await using var reader = store.OpenGlobalReader(0);
        var ids = new List<Guid>();
        while (await reader.ReadNextAsync(1000).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
        {
            ids.AddRange(page.Select(e => e.EventId));
        }

        return ids;
    }
}
