using System.IO.Pipelines;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

public sealed class ConnectionGuardTests
{
    [Fact]
    public void AHandshakeDoneInTimeDisposesItsDeadlineTimerAndLetsGoOfIt()
    {
        var guard = new ConnectionGuard(new InvocationBudget(TimeProvider.System, 100, 100), null, null, null);
        using var deadline = new RecordingTimer();
        guard.WatchHandshake(deadline);

        guard.Registered(NewState());

        Assert.True(deadline.Disposed);
        Assert.False(guard.TryExpireHandshake());
        guard.StopWatchingHandshake(); // the request's end finds nothing left to dispose
        Assert.Equal(1, deadline.DisposeCount);
    }

    [Fact]
    public void ARequestThatEndsBeforeItsHandshakeDisposesTheDeadlineTimer()
    {
        var guard = new ConnectionGuard(new InvocationBudget(TimeProvider.System, 100, 100), null, null, null);
        using var deadline = new RecordingTimer();
        guard.WatchHandshake(deadline);

        guard.StopWatchingHandshake();

        Assert.True(deadline.Disposed);
        Assert.True(guard.TryExpireHandshake());
    }

    private static ConnectionState NewState() =>
        new(new PipeHubConnection("c1", new PipeOptions(useSynchronizationContext: false)).Context, new SignalHubOptions(), TimeProvider.System, _ => { });

    private sealed class RecordingTimer : ITimer
    {
        public int DisposeCount { get; private set; }

        public bool Disposed => DisposeCount > 0;

        public bool Change(TimeSpan dueTime, TimeSpan period) => !Disposed;

        public void Dispose() => DisposeCount++;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
