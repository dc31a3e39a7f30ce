using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Hosting;

/// <summary>
/// <see cref="NodeStages"/> and <see cref="NodeStartup"/>: the stages' order is the start order whatever DI holds, stopping
/// runs it backwards, and no hosted service can start outside it.
/// </summary>
public sealed class NodeStagesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StagesStartInTheirOrderAndStopInReverse()
    {
        var journal = new ConcurrentQueue<string>();
        var services = new ServiceCollection().AddLogging();

        new NodeStages(services)
            .Add("first", s => s.AddHostedService(_ => new Part<First>(journal)))
            .Add("second", s =>
            {
                s.AddHostedService(_ => new Part<Second>(journal));
                s.AddHostedService(_ => new Part<Third>(journal));
            })
            .Register();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        var startup = Assert.Single(provider.GetServices<IHostedService>());

        await startup.StartAsync(CancellationToken.None).WaitAsync(Wait);
        await startup.StopAsync(CancellationToken.None).WaitAsync(Wait);

        Assert.Equal(["start First", "start Second", "start Third", "stop Third", "stop Second", "stop First"], journal);
    }

    [Fact]
    public async Task APartThatFailsToStopDoesNotKeepTheOthersRunning()
    {
        var journal = new ConcurrentQueue<string>();
        var services = new ServiceCollection().AddLogging();
        new NodeStages(services)
            .Add("first", s => s.AddHostedService(_ => new Part<First>(journal)))
            .Add("second", s => s.AddHostedService(_ => new Part<Second>(journal) { FailsToStop = true }))
            .Register();
        await using var provider = services.BuildServiceProvider();
        var startup = Assert.Single(provider.GetServices<IHostedService>());
        await startup.StartAsync(CancellationToken.None).WaitAsync(Wait);

        var error = await Assert.ThrowsAsync<AggregateException>(() => startup.StopAsync(CancellationToken.None).WaitAsync(Wait));

        Assert.IsType<InvalidOperationException>(Assert.Single(error.InnerExceptions));
        Assert.Equal(["start First", "start Second", "stop Second", "stop First"], journal);
    }

    [Fact]
    public void AHostedServiceRegisteredOutsideEveryStageIsRefused()
    {
        var services = new ServiceCollection().AddLogging();
        var stages = new NodeStages(services).Add("first", s => s.AddHostedService(_ => new Part<First>(new())));
        services.AddHostedService(_ => new Part<Second>(new()));

        var error = Assert.Throws<InvalidOperationException>(stages.Register);

        Assert.Contains("Part`1", error.Message, StringComparison.Ordinal);
        Assert.Contains("outside the node's stages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServiceTwoStagesRegisterStartsOnceInTheFirst()
    {
        var journal = new ConcurrentQueue<string>();
        var services = new ServiceCollection().AddLogging();
        new NodeStages(services)
            .Add("first", s => s.AddHostedService<SharedPart>())
            .Add("second", s => s.AddHostedService(_ => new Part<Second>(journal)))
            .Add("third", s => s.AddHostedService<SharedPart>())
            .Register();
        await using var provider = services.BuildServiceProvider();

        var startup = Assert.IsType<NodeStartup>(Assert.Single(provider.GetServices<IHostedService>()));

        Assert.Equal(["first", "second"], startup.Order.Select(p => p.Stage));
    }

    [SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Only a type argument that names a part.")]
    private sealed class First;

    [SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Only a type argument that names a part.")]
    private sealed class Second;

    [SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Only a type argument that names a part.")]
    private sealed class Third;

    private sealed class Part<T>(ConcurrentQueue<string> journal) : IHostedService
    {
        public bool FailsToStop { get; init; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            journal.Enqueue($"start {typeof(T).Name}");
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            journal.Enqueue($"stop {typeof(T).Name}");
            return FailsToStop ? Task.FromException(new InvalidOperationException("cannot stop")) : Task.CompletedTask;
        }
    }

    [SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "Created by the service provider under test.")]
    private sealed class SharedPart : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
