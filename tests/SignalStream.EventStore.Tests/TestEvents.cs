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
}
