using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.Tests;

public sealed class EventIdTests
{
    [Fact]
    public void EventIdsAreVersion7WithTheCreationMillisecondAndNeverRepeat()
    {
        var createdAt = DateTimeOffset.FromUnixTimeMilliseconds(1_763_700_000_123);
        var ids = Enumerable.Range(0, 100_000).Select(_ => EventIds.NewVersion7(createdAt)).ToList();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var id in ids.Take(100))
        {
            Assert.Equal(7, id.Version);
            Assert.Equal(0b10, id.Variant >> 2);
            var text = id.ToString("N");
            Assert.Equal(1_763_700_000_123, Convert.ToInt64(text[..12], 16));
        }
    }
}
